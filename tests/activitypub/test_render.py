"""The documents we serve about ourselves, built from rows in memory: no database, no HTTP."""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fedisupport.activitypub import render
from fedisupport.activitypub.jsonld import AS_CONTEXT, CONTEXT, SECURITY_CONTEXT
from fedisupport.activitypub.vocab import parse_actor
from fedisupport.models import APPLICATION, GROUP, PERSON, Actor, Community, Site
from fedisupport.settings import build_settings

SETTINGS = build_settings({"domain": "support.example.org"}, Path("/nonexistent"))
BASE = "https://support.example.org"
CREATED = dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.timezone.utc)
PEM = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"


def local_actor(kind: str, username: str, path: str, **fields) -> Actor:
    ap_id = BASE + path
    values = dict(
        ap_id=ap_id, kind=kind, local=True, username=username, domain=SETTINGS.domain,
        display_name=username.title(), summary="", url=ap_id, icon_url=None,
        inbox_url=ap_id + "/inbox", shared_inbox_url=BASE + "/inbox", outbox_url=ap_id + "/outbox",
        followers_url=ap_id + "/followers", key_id=ap_id + "#main-key", public_key_pem=PEM,
        manually_approves_followers=False, follower_count=0, following_count=0, post_count=0,
        suspended=False, created_at=CREATED, deleted_at=None,
    )
    values.update(fields)
    return Actor(**values)


def hope(**fields) -> tuple[Actor, Community]:
    actor = local_actor(GROUP, "hope", "/c/hope")
    values = dict(actor_id=1, local=True, name="hope", title="Hope & company",
                  description="Say <anything>.\n\nWe listen.\nAlways.", languages="en es",
                  requires_approval=False, thread_count=0, member_count=0)
    values.update(fields)
    return actor, Community(**values)


def test_group_has_every_field_mastodon_and_lemmy_read():
    actor, community = hope()
    doc = render.actor_document(SETTINGS, actor, community)
    assert doc["@context"] == CONTEXT
    assert doc["@context"][:2] == [AS_CONTEXT, SECURITY_CONTEXT]
    assert doc["type"] == "Group"
    assert doc["id"] == f"{BASE}/c/hope"
    assert doc["preferredUsername"] == "hope"
    assert doc["name"] == "Hope & company"
    assert doc["url"] == f"{BASE}/c/hope"
    assert doc["inbox"] == f"{BASE}/c/hope/inbox"
    assert doc["outbox"] == f"{BASE}/c/hope/outbox"
    assert doc["followers"] == f"{BASE}/c/hope/followers"
    assert doc["featured"] == f"{BASE}/c/hope/featured"
    assert doc["attributedTo"] == f"{BASE}/c/hope/moderators"
    assert doc["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert doc["publicKey"] == {"id": f"{BASE}/c/hope#main-key", "owner": doc["id"], "publicKeyPem": PEM}
    assert doc["manuallyApprovesFollowers"] is False
    assert doc["discoverable"] is True
    assert doc["postingRestrictedToMods"] is False
    assert doc["published"] == "2025-03-01T12:30:00Z"
    assert doc["language"] == [{"identifier": "en", "name": "en"}, {"identifier": "es", "name": "es"}]
    assert "icon" not in doc and "following" not in doc


def test_group_summary_is_escaped_plain_paragraphs():
    actor, community = hope()
    summary = render.actor_document(SETTINGS, actor, community)["summary"]
    assert summary == "<p>Say &lt;anything&gt;.</p><p>We listen.<br>Always.</p>"


def test_group_follows_the_community_approval_setting():
    actor, community = hope(requires_approval=True)
    assert render.actor_document(SETTINGS, actor, community)["manuallyApprovesFollowers"] is True


def test_group_optional_fields_appear_only_when_set():
    actor, community = hope(description="", languages="")
    actor.icon_url = f"{BASE}/static/hope.png"
    doc = render.actor_document(SETTINGS, actor, community)
    assert "summary" not in doc and "language" not in doc
    assert doc["icon"] == {"type": "Image", "url": f"{BASE}/static/hope.png"}


def test_group_needs_its_community():
    actor, _ = hope()
    with pytest.raises(ValueError):
        render.actor_document(SETTINGS, actor)


def test_our_own_parser_reads_the_group_as_peers_would():
    actor, community = hope()
    parsed = parse_actor(render.actor_document(SETTINGS, actor, community))
    assert parsed.type == "Group"
    assert parsed.preferred_username == "hope"
    assert parsed.shared_inbox == f"{BASE}/inbox"
    assert parsed.featured == f"{BASE}/c/hope/featured"
    assert parsed.attributed_to == f"{BASE}/c/hope/moderators"
    assert parsed.public_key is not None and parsed.public_key.owner == parsed.id


def test_person_has_following_and_no_group_fields():
    actor = local_actor(PERSON, "ada", "/u/ada", display_name="Ada L.", summary="Night owl.")
    doc = render.actor_document(SETTINGS, actor)
    assert doc["type"] == "Person"
    assert doc["name"] == "Ada L."
    assert doc["summary"] == "<p>Night owl.</p>"
    assert doc["following"] == f"{BASE}/u/ada/following"
    assert doc["followers"] == f"{BASE}/u/ada/followers"
    assert doc["publicKey"]["owner"] == doc["id"]
    assert doc["discoverable"] is False  # people are not advertised
    for key in ("featured", "attributedTo", "postingRestrictedToMods", "language"):
        assert key not in doc
    assert parse_actor(doc).type == "Person"


def test_instance_actor_is_named_after_the_domain():
    actor = local_actor(APPLICATION, "instance.actor", "/actor", display_name=SETTINGS.domain)
    doc = render.actor_document(SETTINGS, actor)
    assert doc["type"] == "Application"
    assert doc["id"] == f"{BASE}/actor"
    assert doc["preferredUsername"] == "support.example.org"
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["inbox"] == f"{BASE}/actor/inbox"
    assert doc["outbox"] == f"{BASE}/actor/outbox"
    assert doc["url"] == f"{BASE}/"  # /actor is JSON only; people get the home page
    assert render.acct(SETTINGS, actor) == "acct:support.example.org@support.example.org"


def test_suspended_actor_keeps_keys_and_loses_its_profile():
    actor, community = hope()
    actor.suspended = True
    doc = render.actor_document(SETTINGS, actor, community)
    assert doc["suspended"] is True
    assert doc["@context"][-1]["suspended"] == "toot:suspended"
    assert doc["publicKey"]["publicKeyPem"] == PEM and doc["inbox"]
    assert "summary" not in doc and "featured" not in doc and doc["name"] == "hope"


def test_tombstone_remembers_what_was_there():
    actor = local_actor(PERSON, "ada", "/u/ada", deleted_at=CREATED)
    assert render.tombstone_document(actor) == {
        "@context": AS_CONTEXT, "id": f"{BASE}/u/ada", "type": "Tombstone",
        "formerType": "Person", "deleted": "2025-03-01T12:30:00Z",
    }


def test_collections():
    assert render.ordered_collection("https://x/c", 3, first="https://x/c?page=true") == {
        "@context": AS_CONTEXT, "id": "https://x/c", "type": "OrderedCollection", "totalItems": 3,
        "first": "https://x/c?page=true",
    }
    assert render.ordered_collection("https://x/m", 1, items=["https://x/u/a"])["orderedItems"] == ["https://x/u/a"]
    page = render.ordered_collection_page("https://x/c?page=1", "https://x/c", ["a"], next="https://x/c?page=2")
    assert page["type"] == "OrderedCollectionPage"
    assert (page["partOf"], page["orderedItems"], page["next"]) == ("https://x/c", ["a"], "https://x/c?page=2")
    assert "next" not in render.ordered_collection_page("https://x/c?page=1", "https://x/c", [])
    followers = render.count_only_collection("https://x/f", 7)
    assert (followers["type"], followers["totalItems"], followers["items"]) == ("Collection", 7, [])


def test_webfinger_for_a_person():
    actor = local_actor(PERSON, "ada", "/u/ada")
    jrd = render.webfinger_document(SETTINGS, actor)
    assert jrd["subject"] == "acct:ada@support.example.org"
    assert jrd["aliases"] == [f"{BASE}/u/ada"]  # id and page are one URL
    self_link = next(link for link in jrd["links"] if link["rel"] == "self")
    assert self_link["type"] == "application/activity+json"
    assert self_link["href"] == f"{BASE}/u/ada"
    assert {"rel": render.PROFILE_PAGE_REL, "type": "text/html", "href": f"{BASE}/u/ada"} in jrd["links"]
    assert not any(link["rel"] == render.SERVICE_REL for link in jrd["links"])


def test_webfinger_for_the_instance_actor_has_the_fep_d556_link():
    actor = local_actor(APPLICATION, "instance.actor", "/actor")
    jrd = render.webfinger_document(SETTINGS, actor)
    assert jrd["subject"] == "acct:support.example.org@support.example.org"
    assert jrd["aliases"] == [f"{BASE}/actor", f"{BASE}/"]
    service = [link["href"] for link in jrd["links"] if link["rel"] == render.SERVICE_REL]
    assert service == [f"{BASE}/actor"]
    only = render.webfinger_document(SETTINGS, actor, rels=[render.SERVICE_REL])["links"]
    assert [link["rel"] for link in only] == [render.SERVICE_REL]


def test_host_meta_points_at_webfinger():
    root = ET.fromstring(render.host_meta(SETTINGS))
    link = root.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None and link.get("rel") == "lrdd"
    assert link.get("template") == f"{BASE}/.well-known/webfinger?resource={{uri}}"


@pytest.mark.parametrize("version", ["2.1", "2.0"])
def test_nodeinfo_follows_the_schema(version):
    site = Site(id=1, name="Hope Harbour", description="Peer support.", registration_mode="open")
    doc = render.nodeinfo_document(SETTINGS, site, render.Usage(5, 2, 3, 40), version)
    # The schema's required keys and nothing else at the top level (additionalProperties: false).
    assert set(doc) == {"version", "software", "protocols", "services", "openRegistrations", "usage", "metadata"}
    assert doc["version"] == version
    assert doc["software"]["name"] == "fedisupport"
    assert set(doc["software"]) == {"name", "version"}
    assert doc["software"]["version"] == render.software_version() != "unknown"
    assert doc["protocols"] == ["activitypub"]
    assert doc["services"] == {"inbound": [], "outbound": []}
    assert doc["openRegistrations"] is True
    assert doc["usage"] == {"users": {"total": 5, "activeMonth": 2, "activeHalfyear": 3}, "localPosts": 40}
    assert doc["metadata"] == {"nodeName": "Hope Harbour", "nodeDescription": "Peer support."}


@pytest.mark.parametrize("mode", ["approval", "invite", "closed"])
def test_nodeinfo_registrations_are_open_only_when_open(mode):
    site = Site(id=1, name="x", description="", registration_mode=mode)
    assert render.nodeinfo_document(SETTINGS, site, render.Usage(0, 0, 0, 0))["openRegistrations"] is False


def test_nodeinfo_before_setup_and_unknown_versions():
    doc = render.nodeinfo_document(SETTINGS, None, render.Usage(0, 0, 0, 0))
    assert doc["openRegistrations"] is False and doc["metadata"] == {"nodeName": "support.example.org"}
    with pytest.raises(ValueError):
        render.nodeinfo_document(SETTINGS, None, render.Usage(0, 0, 0, 0), "1.0")


def test_nodeinfo_links_list_both_versions():
    links = render.nodeinfo_links(SETTINGS)["links"]
    assert links == [
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": f"{BASE}/nodeinfo/2.1"},
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": f"{BASE}/nodeinfo/2.0"},
    ]


def test_plain_paragraphs_and_iso():
    assert render.plain_paragraphs("") == ""
    assert render.plain_paragraphs("a\r\nb\n\n\n<c>") == "<p>a<br>b</p><p>&lt;c&gt;</p>"
    assert render.iso(dt.datetime(2025, 1, 2, 3, 4, 5, 678)) == "2025-01-02T03:04:05Z"
