"""A small group across three real instances: invited from another server, members-only both ways.

A hosts `hope`; alice (A) opens a thread there and bob (B) answers it from his own server.
alice starts a small group from the thread and invites bob: he gets a direct message, finds the
group by its handle on B and joins; the invitation lets him in at once. alice's members-only
thread reaches B, where bob reads it and dana (also on B, also in `hope`) does not; bob's reply
lands in A's thread. carol on C, in `hope` but not in the group, can fetch nothing of it (nor can
dana, nor anyone unsigned), and a reply she sends anyway is refused.
"""
from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from fedisupport import db
from fedisupport.activitypub.jsonld import CONTEXT
from fedisupport.activitypub.signatures import sign_request
from fedisupport.domain import actions
from fedisupport.models import Actor, Community, Delivery, GroupInvitation, HeldItem, InboxItem, OutboxActivity, Post
from fedisupport.models.content import MEMBERS
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.federation.test_threads import _is, _post_as, act, post_with, software_known
from tests.support.waiting import wait_for
from tests.web.test_small_groups import csrf_of, log_in, start_group, submit

SECRET_TITLE = "MEMBERS-ONLY-title-5813"
SECRET_BODY = "MEMBERS-ONLY-body-2270"
SECRET_REPLY = "MEMBERS-ONLY-reply-from-B-6641"
SECRET_ANSWER = "MEMBERS-ONLY-answer-from-A-3307"
AP = {"Accept": "application/activity+json"}


async def _actor(inst, ap_id: str) -> Actor:
    async with inst.sessions() as session:
        return await session.scalar(select(Actor).where(Actor.ap_id == ap_id))


def _signed_by(person: Actor):
    def headers(url: str) -> dict:
        return sign_request("GET", url, dict(AP), None, person.key_id, person.private_key_pem)
    return headers


async def _inbox_item(inst, type_: str, actor_ap_id: str, settled: bool = True):
    async with inst.sessions() as session:
        item = await session.scalar(select(InboxItem).where(InboxItem.type == type_, InboxItem.actor_ap_id == actor_ap_id)
                                    .order_by(InboxItem.id.desc()))
    if item is None or (settled and item.state == "queued"):
        return None
    return item


async def test_a_small_group_reaches_a_member_on_another_server_and_nobody_else(start_instance):
    async with start_instance() as a, start_instance() as b, start_instance() as c:
        await make_community(a, "hope")
        alice = await make_person(a, "alice")
        bob = await make_person(b, "bob")
        dana = await make_person(b, "dana")
        carol = await make_person(c, "carol")
        hope_url = a.url("/c/hope")
        for inst, person in ((b, bob), (b, dana), (c, carol)):
            await follow_remote(inst, person, hope_url)
        for person in (bob, dana, carol):
            await wait_for(lambda: _is(follow_state(a, person.ap_id, hope_url), "accepted"))
        async with db.transaction(a.sessions) as session:
            from fedisupport.domain import following
            hope = await session.scalar(select(Community).where(Community.name == "hope"))
            await following.follow(session, a.settings, await session.get(Actor, alice.id),
                                   await session.get(Actor, hope.actor_id))
        for host in (b.settings.domain, c.settings.domain):  # forum software: every reply travels
            await wait_for(lambda: _is(software_known(a, host), "fedisupport"))

        # A public thread on A, answered by bob from B.
        async def start(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            return await actions.write_thread(session, a.settings, await session.get(Actor, alice.id), community,
                                              title="Nights are hard", body="Who else is awake at 3am?")
        thread = await act(a, start)
        on_b = await wait_for(post_with(b, thread.ap_id))

        async def bob_replies(session):
            return await actions.write_reply(session, b.settings, await session.get(Actor, bob.id),
                                             await session.get(Post, on_b.id), body="Me, most nights.")
        bobs_reply = await act(b, bob_replies)
        await wait_for(post_with(a, bobs_reply.ap_id))
        bob_on_a = await _actor(a, bob.ap_id)

        # alice starts a small group from the thread and invites bob, who took part from B.
        async with a.client() as client:
            await log_in(client, "alice")
            name = await start_group(client, thread.id)
            invite_page = await client.get(f"/c/{name}/invite")
            assert f'value="{bob_on_a.id}"' in invite_page.text
            sent = await client.post(f"/c/{name}/invite", data={"csrf_token": csrf_of(invite_page.text),
                                                                 "invitee": [str(bob_on_a.id)]})
            assert sent.status_code == 303 and sent.headers["location"].endswith("sent=1")
        a.services.work_available.set()
        group_url = a.url(f"/c/{name}")
        handle = f"{name}@{a.settings.domain}"

        # The invitation is a direct message to bob's own inbox (never a shared one), signed by alice.
        async with a.sessions() as session:
            message = await session.scalar(select(OutboxActivity).where(OutboxActivity.type == "Create",
                                                                        OutboxActivity.actor_id == alice.id)
                                           .order_by(OutboxActivity.id.desc()))
            doc = json.loads(message.body)
            assert doc["to"] == [bob.ap_id] and doc["object"]["to"] == [bob.ap_id] and doc["cc"] == []
            assert "@" + handle in doc["object"]["content"] and group_url in doc["object"]["content"]
            assert doc["object"]["contentMap"] == {"en": doc["object"]["content"]}  # the thread's language
            inboxes = list(await session.scalars(select(Delivery.inbox_url).where(Delivery.activity_id == message.id)))
            assert inboxes == [bob.inbox_url]
        invitation = await wait_for(lambda: _inbox_item(b, "Create", alice.ap_id))
        assert invitation.state != "failed", invitation.error

        # bob finds the group by its handle on B and joins: accepted at once, the invitation stands.
        async with b.client() as client:
            await log_in(client, "bob")
            found = await client.get("/find", params={"q": "@" + handle})
            assert found.status_code == 303 and found.headers["location"] == f"/c/{handle}", found.text
            page = await client.get(found.headers["location"])
            assert page.status_code == 200
            joined = await client.post(f"/c/{handle}/join", data={"csrf_token": csrf_of(page.text)})
            assert joined.status_code == 303
        b.services.work_available.set()
        await wait_for(lambda: _is(follow_state(b, bob.ap_id, group_url), "accepted"))
        assert await follow_state(a, bob.ap_id, group_url) == "accepted"
        async with a.sessions() as session:
            group = await session.scalar(select(Community).where(Community.name == name))
            assert (await session.scalar(select(GroupInvitation.state).where(
                GroupInvitation.community_id == group.id, GroupInvitation.invitee_id == bob_on_a.id))) == "accepted"
            assert await session.scalar(select(HeldItem.id).where(HeldItem.community_id == group.id)) is None

        # A members-only thread on A reaches bob on B, and is kept members-only there.
        async with a.client() as client:
            await log_in(client, "alice")
            made = await submit(client, f"/c/{name}/new", f"/c/{name}/new",
                                {"title": SECRET_TITLE, "body": SECRET_BODY, "language": "en"})
            assert made.status_code == 303, made.text
            secret_id = int(made.headers["location"].rsplit("/", 1)[1])
        a.services.work_available.set()
        async with a.sessions() as session:
            secret = await session.get(Post, secret_id)
        assert secret.visibility == MEMBERS
        secret_on_b = await wait_for(post_with(b, secret.ap_id))
        assert secret_on_b.visibility == MEMBERS and secret_on_b.is_thread and SECRET_BODY in secret_on_b.content_html

        async with b.client() as bob_web, b.client() as dana_web, b.client() as anonymous:
            await log_in(bob_web, "bob")
            await log_in(dana_web, "dana")
            shown = await bob_web.get(f"/p/{secret_on_b.id}")
            assert shown.status_code == 200 and SECRET_BODY in shown.text
            assert SECRET_TITLE in (await bob_web.get(f"/c/{handle}")).text
            for client in (dana_web, anonymous):
                assert (await client.get(f"/p/{secret_on_b.id}")).status_code == 404
                for path in ("/", f"/c/{handle}", f"/c/hope@{a.settings.domain}", "/u/bob"):
                    assert "MEMBERS-ONLY" not in (await client.get(path)).text, path

            # bob replies on B; the reply lands in A's members-only thread.
            replied = await submit(bob_web, f"/p/{secret_on_b.id}", f"/p/{secret_on_b.id}/reply",
                                   {"body": SECRET_REPLY})
            assert replied.status_code == 303, replied.text
        b.services.work_available.set()
        async with b.sessions() as session:
            reply_on_b = await session.scalar(select(Post).where(Post.thread_id == secret_on_b.id,
                                                                 Post.id != secret_on_b.id))
        assert reply_on_b.visibility == MEMBERS and reply_on_b.local
        reply_on_a = await wait_for(post_with(a, reply_on_b.ap_id))
        assert reply_on_a.thread_id == secret_id and reply_on_a.visibility == MEMBERS
        await wait_for(post_with(a, secret.ap_id, lambda p: p.thread_reply_count == 1))
        async with a.client() as client:
            await log_in(client, "alice")
            assert SECRET_REPLY in (await client.get(f"/p/{secret_id}")).text

        # alice answers bob on A; her members-only reply reaches B in the group's Announce.
        async def alice_answers(session):
            return await actions.write_reply(session, a.settings, await session.get(Actor, alice.id),
                                             await session.get(Post, reply_on_a.id), body=SECRET_ANSWER)
        answer_on_a = await act(a, alice_answers)
        assert answer_on_a.visibility == MEMBERS
        answer_on_b = await wait_for(post_with(b, answer_on_a.ap_id))
        assert answer_on_b.visibility == MEMBERS and answer_on_b.parent_id == reply_on_b.id

        # Fetching the thread, a reply and the collections: only a member's signature opens them.
        paths = [f"/p/{secret_id}", f"/p/{secret_id}/replies", f"/p/{secret_id}/context", f"/p/{answer_on_a.id}"]
        async with httpx.AsyncClient(timeout=10) as client:
            for path in paths:
                url = a.url(path)
                for who, headers in (("unsigned", dict(AP)), ("carol on C", _signed_by(carol)(url)),
                                     ("dana on B", _signed_by(dana)(url))):
                    answer = await client.get(url, headers=headers)
                    assert answer.status_code == 404, (path, who)
                    assert "MEMBERS-ONLY" not in answer.text
                member = await client.get(url, headers=_signed_by(bob)(url))
                assert member.status_code == 200, path
                assert member.headers["cache-control"] == "private, no-store"
            context = (await client.get(a.url(f"/p/{secret_id}/context"), headers=_signed_by(bob)(a.url(f"/p/{secret_id}/context")))).json()
            assert context["totalItems"] == 3

        # Nothing of it reached C, though carol is in `hope` and C runs forum software.
        async with c.sessions() as session:
            assert await session.scalar(select(Post.id).where(
                Post.ap_id.in_([secret.ap_id, reply_on_a.ap_id, answer_on_a.ap_id]))) is None

        # carol replies anyway, straight to the group's inbox: refused, nothing stored.
        note_id = c.url("/p/9000002")
        await _post_as(c, carol, a.url(f"/c/{name}/inbox"), {
            "@context": CONTEXT, "id": note_id + "/activity", "type": "Create", "actor": carol.ap_id,
            "to": [a.url(f"/c/{name}/followers"), group_url], "cc": [],
            "object": {"id": note_id, "type": "Note", "attributedTo": carol.ap_id, "inReplyTo": secret.ap_id,
                       "content": "<p>Let me in.</p>", "to": [a.url(f"/c/{name}/followers"), group_url], "cc": [],
                       "published": "2026-11-26T10:00:00Z"},
        })
        a.services.work_available.set()
        refused = await wait_for(lambda: _inbox_item(a, "Create", carol.ap_id))
        assert refused.state == "rejected", (refused.state, refused.error)
        assert await post_with(a, note_id)() is None

        # Without an invitation, asking to join from C waits for the group's moderators.
        await follow_remote(c, carol, group_url)

        async def held():
            async with a.sessions() as session:
                return await session.scalar(select(HeldItem.state).where(HeldItem.community_id == group.id,
                                                                         HeldItem.kind == "follow"))
        assert await wait_for(held) == "pending"
        assert await follow_state(c, carol.ap_id, group_url) == "pending"
