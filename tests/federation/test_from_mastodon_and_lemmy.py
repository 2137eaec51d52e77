"""Shapes real peers send: a Mastodon post that mentions a community starts a thread there, a
Mastodon reply addressed only to the author it answers lands in the thread, and a Lemmy community
we follow announces a `Page` that becomes a thread here."""
from __future__ import annotations

import json

from sqlalchemy import select

from fedisupport import db
from fedisupport.activitypub.jsonld import AS_PUBLIC
from fedisupport.domain import accounts
from fedisupport.models import Actor, Community, Follow, InboxItem, Instance, OutboxActivity, Post, utcnow
from fedisupport.models.social import ACCEPTED
from tests.support.remote import FakeRemote, signed_post
from tests.support.waiting import wait_for


async def post_by(instance, ap_id: str) -> Post | None:
    async with instance.sessions() as session:
        return await session.scalar(select(Post).where(Post.ap_id == ap_id))


async def settled(instance, ap_id: str) -> InboxItem | None:
    async with instance.sessions() as session:
        item = await session.scalar(select(InboxItem).where(InboxItem.ap_id == ap_id))
    return item if item is not None and item.state != "queued" else None


async def test_a_mastodon_mention_starts_a_thread_and_replies_land_in_it(instance):
    async with db.transaction(instance.sessions) as session:
        await accounts.create_community(session, instance.settings, "hope", "Hope")
    hope = instance.url("/c/hope")
    async with FakeRemote() as mastodon:
        mastodon.add_actor("mia")
        mastodon.add_actor("noor")
        note_id = mastodon.url("/users/mia/statuses/1")
        note = {"id": note_id, "type": "Note", "attributedTo": mastodon.url("/users/mia"),
                "content": '<p><span class="h-card"><a href="' + hope + '" class="u-url mention">@<span>hope</span></a>'
                           "</span> Struggling today, does anyone else feel this way?</p><p>It has been a long week.</p>",
                "to": [AS_PUBLIC], "cc": [mastodon.url("/users/mia/followers"), hope],
                "tag": [{"type": "Mention", "href": hope, "name": f"@hope@{instance.settings.domain}"}],
                "published": "2026-11-26T09:00:00Z", "contentMap": {"en": "..."}}
        create = mastodon.activity("mia", "Create", note, to=note["to"], cc=note["cc"])
        response = await signed_post(mastodon, "mia", instance.url("/inbox"), create)
        assert response.status_code == 202
        thread = await wait_for(lambda: post_by(instance, note_id))
        assert thread.is_thread and thread.title == "Struggling today, does anyone else feel this way?"
        async with instance.sessions() as session:
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            announce = await session.scalar(select(OutboxActivity).where(OutboxActivity.type == "Announce"))
        assert thread.community_id == community.actor_id
        assert json.loads(announce.body)["object"]["id"] == create["id"]  # the Create, passed on unchanged

        # Noor answers Mia the way Mastodon does: to Mia only, the community not named at all.
        reply_id = mastodon.url("/users/noor/statuses/2")
        reply = {"id": reply_id, "type": "Note", "attributedTo": mastodon.url("/users/noor"), "inReplyTo": note_id,
                 "content": "<p>Yes. You're not alone.</p>", "to": [mastodon.url("/users/mia")], "cc": [AS_PUBLIC],
                 "tag": [{"type": "Mention", "href": mastodon.url("/users/mia"), "name": "@mia"}],
                 "published": "2026-11-26T09:05:00Z"}
        answer = mastodon.activity("noor", "Create", reply, to=reply["to"], cc=reply["cc"])
        assert (await signed_post(mastodon, "noor", instance.url("/inbox"), answer)).status_code == 202
        stored = await wait_for(lambda: post_by(instance, reply_id))
        assert stored.thread_id == thread.id and stored.parent_id == thread.id


async def test_a_followed_lemmy_community_announces_a_page_that_becomes_a_thread(instance):
    async with db.transaction(instance.sessions) as session:
        user = await accounts.create_user(session, instance.settings, "ada", "a long enough password")
        ada_id = user.actor_id
    async with FakeRemote() as lemmy:
        group = lemmy.add_actor("asklemmy", type="Group")
        lemmy.add_actor("lee")
        async with db.transaction(instance.sessions) as session:
            remote_group = Actor(ap_id=group.id, kind="group", local=False, username="asklemmy", domain=lemmy.domain,
                                 inbox_url=group.id + "/inbox", shared_inbox_url=lemmy.url("/inbox"),
                                 key_id=group.key_id, public_key_pem=group.key.public_pem)
            session.add(remote_group)
            await session.flush()
            session.add(Follow(follower_id=ada_id, target_id=remote_group.id, state=ACCEPTED, accepted_at=utcnow()))
        page_id = lemmy.url("/post/77")
        page = {"id": page_id, "type": "Page", "attributedTo": lemmy.url("/users/lee"), "name": "How do you cope with nights?",
                "content": "<p>Nights are the hardest for me.</p>", "mediaType": "text/html",
                "to": [group.id, AS_PUBLIC], "audience": group.id, "published": "2026-11-26T08:00:00Z",
                "language": {"identifier": "en", "name": "English"}}
        create = lemmy.activity("lee", "Create", page, to=[group.id, AS_PUBLIC], audience=group.id)
        announce = lemmy.activity("asklemmy", "Announce", create, to=[AS_PUBLIC], cc=[group.id + "/followers"])
        assert (await signed_post(lemmy, "asklemmy", instance.url("/inbox"), announce)).status_code == 202
        thread = await wait_for(lambda: post_by(instance, page_id))
        assert thread.is_thread and thread.title == "How do you cope with nights?" and thread.language == "en"
        async with instance.sessions() as session:
            assert (await session.get(Actor, thread.community_id)).ap_id == group.id

        # An Announce from a community nobody here follows is not taken.
        lemmy.add_actor("elsewhere", type="Group")
        stray = lemmy.activity("lee", "Create", {**page, "id": lemmy.url("/post/78")})
        other = lemmy.activity("elsewhere", "Announce", stray, to=[AS_PUBLIC])
        assert (await signed_post(lemmy, "elsewhere", instance.url("/inbox"), other)).status_code == 202
        item = await wait_for(lambda: settled(instance, other["id"]))
        assert item.state == "ignored" and await post_by(instance, lemmy.url("/post/78")) is None


async def test_a_reply_fetched_as_a_parent_is_still_announced_when_its_own_create_arrives(instance):
    """Across servers, a reply to a reply can arrive before the reply it answers. We fetch that
    parent to place the new one; the parent's own Create, when it comes, must still be passed on
    to the community's forum followers (FEP-1b12), not dropped as already known."""
    async with db.transaction(instance.sessions) as session:
        community = await accounts.create_community(session, instance.settings, "hope", "Hope")
        group = await session.get(Actor, community.actor_id)
        forum = Actor(ap_id="https://forum.example/u/ash", kind="person", local=False, username="ash",
                      domain="forum.example", inbox_url="https://forum.example/u/ash/inbox",
                      shared_inbox_url="https://forum.example/inbox")
        session.add_all([forum, Instance(host="forum.example", software="lemmy")])
        await session.flush()
        session.add(Follow(follower_id=forum.id, target_id=group.id, state=ACCEPTED,
                           ap_id="https://forum.example/follows/1", accepted_at=utcnow()))
    hope = instance.url("/c/hope")
    async with FakeRemote() as mastodon:
        for name in ("mia", "noor", "zed"):
            mastodon.add_actor(name)

        def note(name: str, number: int, text: str, in_reply_to: str | None = None) -> dict:
            doc = {"id": mastodon.url(f"/users/{name}/statuses/{number}"), "type": "Note",
                   "attributedTo": mastodon.url(f"/users/{name}"), "content": f"<p>{text}</p>",
                   "to": [AS_PUBLIC], "cc": [hope], "published": f"2026-11-26T09:0{number}:00Z"}
            if in_reply_to:
                doc["inReplyTo"] = in_reply_to
            else:
                doc["tag"] = [{"type": "Mention", "href": hope, "name": f"@hope@{instance.settings.domain}"}]
            return doc

        async def deliver(name: str, obj: dict) -> dict:
            create = mastodon.activity(name, "Create", obj, to=obj["to"], cc=obj["cc"])
            assert (await signed_post(mastodon, name, instance.url("/inbox"), create)).status_code == 202
            await wait_for(lambda: settled(instance, create["id"]))
            return create

        async def announced(create_id: str) -> bool:
            async with instance.sessions() as session:
                bodies = await session.scalars(select(OutboxActivity.body).where(OutboxActivity.type == "Announce"))
                return any(json.loads(body)["object"].get("id") == create_id for body in bodies
                           if isinstance(json.loads(body)["object"], dict))

        thread = note("mia", 1, "Struggling today.")
        await deliver("mia", thread)
        middle = note("noor", 2, "Me too.", in_reply_to=thread["id"])
        mastodon.serve("/users/noor/statuses/2", {"@context": "https://www.w3.org/ns/activitystreams", **middle})
        last = note("zed", 3, "Both of you, hang in there.", in_reply_to=middle["id"])

        last_create = await deliver("zed", last)  # arrives first: noor's reply is fetched to place it
        assert (await post_by(instance, middle["id"])) is not None
        assert await announced(last_create["id"])
        middle_create = await deliver("noor", middle)  # then noor's own Create comes
        assert await announced(middle_create["id"])
        again = mastodon.activity("noor", "Create", middle, to=middle["to"], cc=middle["cc"])
        assert (await signed_post(mastodon, "noor", instance.url("/inbox"), again)).status_code == 202
        await wait_for(lambda: settled(instance, again["id"]))
        assert not await announced(again["id"])  # passed on once, not once per copy
