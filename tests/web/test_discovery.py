"""Discovery and actors over real HTTP: WebFinger, host-meta, NodeInfo, actor JSON, collections."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from fedisupport import db
from fedisupport.activitypub.vocab import parse_actor
from fedisupport.domain import accounts, actions, posting
from fedisupport.models import Actor, OutboxActivity, Post, User, utcnow
from fedisupport.web import ap_routes

AP_JSON = {"Accept": "application/activity+json"}
LD_JSON = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PASSWORD = "a long enough password"


async def seed(instance) -> None:
    """ada owns `hope`; bea moderates it; `quiet` asks before accepting followers."""
    s = instance.settings
    async with db.transaction(instance.sessions) as session:
        ada_user = await accounts.create_user(session, s, "ada", PASSWORD, display_name="Ada")
        await accounts.create_user(session, s, "bea", PASSWORD)
        ada = await session.get(Actor, ada_user.actor_id)
        hope = await accounts.create_community(session, s, "hope", "Hope", description="We <listen>.",
                                               languages="en", owner=ada)
        await accounts.create_community(session, s, "quiet", "Quiet room", requires_approval=True)
        await accounts.make_moderator(session, s, "hope", "bea")
        pinned = await actions.write_thread(session, s, ada, hope, title="Start here", body="Welcome.")
        pinned.pinned = True
        tuesday = await actions.write_thread(session, s, ada, hope, title="Tuesday", body="Rough day.")
        await actions.write_reply(session, s, ada, tuesday, body="Replies stay out of the outbox.")


async def finger(client, resource: str, **params):
    return await client.get("/.well-known/webfinger", params={"resource": resource, **params})


def self_href(jrd: dict) -> str:
    return next(link["href"] for link in jrd["links"] if link["rel"] == "self")


# --- WebFinger ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, path, kind", [("ada", "/u/ada", "Person"), ("hope", "/c/hope", "Group")])
async def test_webfinger_finds_people_and_communities(instance, name, path, kind):
    await seed(instance)
    domain = instance.settings.domain
    async with instance.client() as client:
        response = await finger(client, f"acct:{name}@{domain}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jrd+json")
    assert response.headers["access-control-allow-origin"] == "*"
    jrd = response.json()
    assert jrd["subject"] == f"acct:{name}@{domain}"
    self_link = next(link for link in jrd["links"] if link["rel"] == "self")
    assert self_link["type"] == "application/activity+json"
    assert self_link["href"] == instance.settings.url(path)
    assert self_link["properties"]["https://www.w3.org/ns/activitystreams#type"] == kind
    assert instance.settings.url(path) in jrd["aliases"]


@pytest.mark.parametrize("resource", ["acct:{domain}@{domain}", "{base}/", "{base}"])
async def test_webfinger_finds_the_instance_actor(instance, resource):
    s = instance.settings
    async with instance.client() as client:
        response = await finger(client, resource.format(domain=s.domain, base=s.base_url))
    assert response.status_code == 200
    jrd = response.json()
    assert jrd["subject"] == f"acct:{s.domain}@{s.domain}"
    assert self_href(jrd) == s.url("/actor")
    service = [link for link in jrd["links"] if link["rel"] == "https://www.w3.org/ns/activitystreams#Service"]
    assert [link["href"] for link in service] == [s.url("/actor")]
    assert service[0]["type"] == "application/activity+json"


async def test_webfinger_is_case_insensitive_and_reads_actor_urls(instance):
    await seed(instance)
    s = instance.settings
    async with instance.client() as client:
        upper = await finger(client, f"acct:ADA@{s.domain.upper()}")
        bare = await finger(client, f"Hope@{s.domain}")
        by_url = await finger(client, s.url("/c/hope"))
    assert upper.status_code == 200 and upper.json()["subject"] == f"acct:ada@{s.domain}"
    assert bare.status_code == 200 and self_href(bare.json()) == s.url("/c/hope")
    assert by_url.status_code == 200 and by_url.json()["subject"] == f"acct:hope@{s.domain}"


@pytest.mark.parametrize("resource", [
    "acct:ada@elsewhere.example", "acct:nobody@{domain}", "https://elsewhere.example/u/ada",
    "{base}/u/hope", "{base}/p/1", "acct:instance.actor@{domain}",
])
async def test_webfinger_404_for_what_is_not_ours(instance, resource):
    await seed(instance)
    s = instance.settings
    async with instance.client() as client:
        response = await finger(client, resource.format(domain=s.domain, base=s.base_url))
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("params", [
    {}, {"resource": ""}, {"resource": "acct:ada"}, {"resource": "acct:@{domain}"},
    {"resource": "mailto:ada@{domain}"}, {"resource": "https://"}, {"resource": "x" * 2000},
])
async def test_webfinger_400_with_a_reason_for_malformed_resources(instance, params):
    params = {k: v.format(domain=instance.settings.domain) for k, v in params.items()}
    async with instance.client() as client:
        response = await client.get("/.well-known/webfinger", params=params)
    assert response.status_code == 400
    assert response.json()["error"]


async def test_mastodon_round_trip(instance):
    """Mastodon takes preferredUsername and the actor's host, fingers that, and expects the
    same subject and a self link equal to the actor id (spec/webfinger.md)."""
    await seed(instance)
    s = instance.settings
    async with instance.client() as client:
        for resource in (f"acct:ada@{s.domain}", f"acct:hope@{s.domain}", f"acct:{s.domain}@{s.domain}"):
            first = (await finger(client, resource)).json()
            actor = (await client.get(self_href(first), headers=AP_JSON)).json()
            again = (await finger(client, f"acct:{actor['preferredUsername']}@{urlsplit(actor['id']).netloc}")).json()
            assert again["subject"] == first["subject"] == resource
            assert self_href(again) == actor["id"]


# --- actors ------------------------------------------------------------------------------------


async def test_group_json_has_what_mastodon_and_lemmy_need(instance):
    await seed(instance)
    s = instance.settings
    async with instance.client() as client:
        response = await client.get("/c/hope", headers=AP_JSON)
        quiet = (await client.get("/c/quiet", headers=AP_JSON)).json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/activity+json")
    assert "max-age=" in response.headers["cache-control"]
    assert "Accept" in response.headers["vary"]
    doc = response.json()
    group = parse_actor(doc)
    assert group.type == "Group" and group.id == s.url("/c/hope")
    assert doc["publicKey"]["owner"] == doc["id"]
    assert doc["publicKey"]["id"] == doc["id"] + "#main-key"
    assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert doc["endpoints"]["sharedInbox"] == s.url("/inbox")
    assert doc["inbox"] == s.url("/c/hope/inbox")
    assert doc["followers"] == s.url("/c/hope/followers")
    assert doc["outbox"] == s.url("/c/hope/outbox")
    assert doc["featured"] == s.url("/c/hope/featured")
    assert doc["attributedTo"] == s.url("/c/hope/moderators")
    assert doc["summary"] == "<p>We &lt;listen&gt;.</p>"
    assert doc["manuallyApprovesFollowers"] is False
    assert quiet["manuallyApprovesFollowers"] is True


async def test_person_and_instance_actor_json(instance):
    await seed(instance)
    s = instance.settings
    async with instance.client() as client:
        ada = (await client.get("/u/ada", headers=LD_JSON)).json()
        actor_response = await client.get("/actor")  # no Accept at all: still JSON
    assert ada["type"] == "Person" and ada["name"] == "Ada"
    assert ada["following"] == s.url("/u/ada/following")
    assert ada["publicKey"]["owner"] == ada["id"] == s.url("/u/ada")
    assert actor_response.status_code == 200
    assert actor_response.headers["content-type"].startswith("application/activity+json")
    app = actor_response.json()
    assert app["type"] == "Application" and app["preferredUsername"] == s.domain
    assert app["manuallyApprovesFollowers"] is True
    assert (app["inbox"], app["outbox"]) == (s.url("/actor/inbox"), s.url("/actor/outbox"))
    assert app["publicKey"]["id"] == s.url("/actor#main-key")


async def test_browsers_get_html_and_servers_json_from_one_url(instance):
    await seed(instance)
    async with instance.client() as client:
        for path in ("/c/hope", "/u/ada"):
            page = await client.get(path, headers=BROWSER)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert "Accept" in page.headers["vary"]
            as_json = await client.get(path, headers=LD_JSON)
            assert as_json.headers["content-type"].startswith("application/activity+json")
            assert "Accept" in as_json.headers["vary"]
        profile = await client.get("/u/ada", headers=BROWSER)
    assert f"@ada@{instance.settings.domain}" in profile.text
    assert 'rel="alternate" type="application/activity+json"' in profile.text


@pytest.mark.parametrize("path", [
    "/u/nobody", "/c/nobody", "/u/hope", "/c/ada", "/u/instance.actor",
    "/u/nobody/followers", "/c/nobody/moderators", "/c/nobody/featured", "/c/nobody/outbox",
])
async def test_unknown_names_are_404(instance, path):
    await seed(instance)
    async with instance.client() as client:
        assert (await client.get(path, headers=AP_JSON)).status_code == 404


async def test_deleted_actor_is_gone_with_a_tombstone(instance):
    await seed(instance)
    s = instance.settings
    async with db.transaction(instance.sessions) as session:
        await session.execute(update(Actor).where(Actor.username == "bea").values(deleted_at=utcnow()))
    async with instance.client() as client:
        actor = await client.get("/u/bea", headers=AP_JSON)
        followers = await client.get("/u/bea/followers")
        page = await client.get("/u/bea", headers=BROWSER)
        fingered = await finger(client, f"acct:bea@{s.domain}")
        moderators = (await client.get("/c/hope/moderators")).json()
    assert actor.status_code == 410
    assert actor.json()["type"] == "Tombstone" and actor.json()["formerType"] == "Person"
    assert actor.json()["id"] == s.url("/u/bea")
    assert followers.status_code == 410
    assert page.status_code == 410 and "deleted" in page.text
    assert fingered.status_code == 410
    assert s.url("/u/bea") not in moderators["orderedItems"]


async def test_suspended_actor_stays_findable_but_empty(instance):
    """Mastodon deletes accounts whose WebFinger answers 410, and suspension can be lifted."""
    await seed(instance)
    s = instance.settings
    async with db.transaction(instance.sessions) as session:
        await session.execute(update(Actor).where(Actor.username == "hope").values(suspended=True))
    async with instance.client() as client:
        doc = (await client.get("/c/hope", headers=AP_JSON)).json()
        fingered = await finger(client, f"acct:hope@{s.domain}")
        featured = (await client.get("/c/hope/featured")).json()
    assert doc["suspended"] is True and "summary" not in doc and doc["publicKey"]["owner"] == doc["id"]
    assert fingered.status_code == 200
    assert featured["orderedItems"] == []


# --- collections -------------------------------------------------------------------------------


async def test_moderators_collection_lists_owner_then_moderator(instance):
    await seed(instance)
    s = instance.settings
    async with instance.client() as client:
        response = await client.get("/c/hope/moderators")
    assert response.headers["content-type"].startswith("application/activity+json")
    doc = response.json()
    assert doc["type"] == "OrderedCollection" and doc["id"] == s.url("/c/hope/moderators")
    assert doc["orderedItems"] == [s.url("/u/ada"), s.url("/u/bea")]
    assert doc["totalItems"] == 2


async def test_featured_lists_pinned_threads_only(instance):
    await seed(instance)
    async with instance.sessions() as session:
        pinned = await session.scalar(select(Post.ap_id).where(Post.title == "Start here"))
    async with instance.client() as client:
        doc = (await client.get("/c/hope/featured")).json()
    assert doc["type"] == "OrderedCollection" and doc["id"] == instance.settings.url("/c/hope/featured")
    assert (doc["totalItems"], doc["orderedItems"]) == (1, [pinned])


async def test_followers_tell_how_many_never_who(instance):
    await seed(instance)
    async with db.transaction(instance.sessions) as session:
        await session.execute(update(Actor).where(Actor.username == "hope").values(follower_count=3))
    async with instance.client() as client:
        group = (await client.get("/c/hope/followers")).json()
        person = (await client.get("/u/ada/followers")).json()
        following = (await client.get("/u/ada/following")).json()
    assert (group["totalItems"], group["items"]) == (3, [])
    assert "orderedItems" not in group
    assert person["totalItems"] == 0 and following["totalItems"] == 0
    assert following["id"] == instance.settings.url("/u/ada/following")


async def test_outboxes_hold_the_activities_that_carried_recent_threads(instance):
    await seed(instance)
    s = instance.settings
    async with instance.client() as client:
        group = (await client.get("/c/hope/outbox")).json()
        person = (await client.get("/u/ada/outbox")).json()
        instance_outbox = (await client.get("/actor/outbox")).json()
    assert group["type"] == "OrderedCollection" and group["totalItems"] == 2
    # Newest first; a community's items are its Announces of the Creates (what Lemmy reads).
    titles = [item["object"]["object"]["name"] for item in group["orderedItems"]]
    assert titles == ["Tuesday", "Start here"]
    assert all(item["type"] == "Announce" and item["actor"] == s.url("/c/hope") for item in group["orderedItems"])
    assert [item["type"] for item in person["orderedItems"]] == ["Create", "Create"]
    assert person["totalItems"] == 3  # every post counts, but only threads are listed
    async with instance.client() as client:
        served = await client.get(group["orderedItems"][0]["id"])
    assert served.status_code == 200 and served.json()["type"] == "Announce"
    assert instance_outbox == {"@context": "https://www.w3.org/ns/activitystreams", "id": s.url("/actor/outbox"),
                               "type": "OrderedCollection", "totalItems": 0, "orderedItems": []}


# --- host-meta and NodeInfo --------------------------------------------------------------------


async def test_host_meta_leads_to_webfinger(instance):
    async with instance.client() as client:
        response = await client.get("/.well-known/host-meta")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xrd+xml")
    link = ET.fromstring(response.text).find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link.get("template") == instance.settings.url("/.well-known/webfinger") + "?resource={uri}"


async def test_nodeinfo_is_discoverable_in_both_versions(instance):
    async with instance.client() as client:
        links = (await client.get("/.well-known/nodeinfo")).json()["links"]
        versions = {}
        for link in links:
            response = await client.get(link["href"])
            assert response.status_code == 200
            assert 'profile="http://nodeinfo.diaspora.software/ns/schema/' in response.headers["content-type"]
            versions[link["rel"].rsplit("/", 1)[1]] = response.json()
        missing = await client.get("/nodeinfo/1.0")
    assert set(versions) == {"2.1", "2.0"}
    for version, doc in versions.items():
        assert doc["version"] == version
        assert doc["software"]["name"] == "fedisupport"
        assert doc["protocols"] == ["activitypub"]
        assert doc["openRegistrations"] is True  # the test instance is set up with open sign-up
        assert doc["metadata"]["nodeName"] == f"Test {instance.settings.domain}"
    assert missing.status_code == 404


async def test_nodeinfo_counts_are_real(instance):
    async with instance.client() as client:
        before = (await client.get("/nodeinfo/2.1")).json()["usage"]
        assert before == {"users": {"total": 0, "activeMonth": 0, "activeHalfyear": 0}, "localPosts": 0}

        await seed(instance)  # ada posts twice; bea neither posts nor logs in
        async with db.transaction(instance.sessions) as session:
            await accounts.create_user(session, instance.settings, "cal", PASSWORD, approved=False)
        cached = (await client.get("/nodeinfo/2.1")).json()["usage"]
        assert cached == before  # counted at most every few minutes

        ap_routes.forget_nodeinfo(instance.app)
        after = (await client.get("/nodeinfo/2.1")).json()["usage"]
        assert after == {"users": {"total": 2, "activeMonth": 1, "activeHalfyear": 1}, "localPosts": 3}

        async with db.transaction(instance.sessions) as session:
            await session.execute(update(User).values(last_login_at=utcnow()))
        ap_routes.forget_nodeinfo(instance.app)
        logged_in = (await client.get("/nodeinfo/2.0")).json()["usage"]
    assert logged_in["users"] == {"total": 2, "activeMonth": 2, "activeHalfyear": 2}


async def test_outboxes_leave_out_threads_gone_since_and_reports_are_never_served(instance):
    await seed(instance)
    async with db.transaction(instance.sessions) as session:
        tuesday = await session.scalar(select(Post).where(Post.title == "Tuesday"))
        await posting.delete_post(session, tuesday)
        ada = await session.scalar(select(Actor).where(Actor.username == "ada"))
        flag = OutboxActivity(ap_id=instance.url("/activities/flag1"), actor_id=ada.id, type="Flag",
                              body='{"type": "Flag", "content": "private"}')
        session.add(flag)
    async with instance.client() as client:
        group = (await client.get("/c/hope/outbox")).json()
        hidden = await client.get("/activities/flag1")
    assert [item["object"]["object"]["name"] for item in group["orderedItems"]] == ["Start here"]
    assert hidden.status_code == 404
