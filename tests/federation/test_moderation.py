"""Moderation across real instances on loopback: A hosts the community hope; B (and C) follow it.

- a removal, a ban, a lock and a pin on A reach B, which honours them; A and B refuse the banned
  person's new replies; lifting the ban and restoring the post reach B too;
- a remote person's Delete or Lock is refused until A appoints them moderator, and then accepted
  and announced (B checks hope's moderators collection at A before believing it);
- a community can never act on another community's posts, nor pass off a stranger as moderator;
- a report forwarded from A reaches B as Mastodon's Flag and becomes a report there;
- a remote reply held on A is announced to C only once a moderator approves it.
"""
from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from sqlalchemy import select

from fedisupport import db
from fedisupport.activitypub.jsonld import AS_PUBLIC, CONTEXT
from fedisupport.activitypub.signatures import sign_request
from fedisupport.domain import accounts, actions, mod_queue, moderation, reports
from fedisupport.domain.errors import DomainError
from fedisupport.models import (Actor, Community, CommunityBan, DomainPolicy, HeldItem, InboxItem, KeywordRule,
                                ModAction, Post, Report, utcnow)
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.federation.test_threads import act, post_with, software_known
from tests.support.waiting import wait_for


async def _equals(awaitable, expected) -> bool:
    return (await awaitable) == expected


async def hope_with_followers(a, *followers) -> dict[str, Actor]:
    """hope on A (owner olga, moderator mo, alice writes); one follower per other instance."""
    people = {}
    for name in ("olga", "mo", "alice"):
        people[name] = await make_person(a, name)
    await make_community(a, "hope", owner=people["olga"])
    async with db.transaction(a.sessions) as session:
        user = await accounts.create_user(session, a.settings, "ada", "a long enough password", is_admin=True)
        row = await session.scalar(select(Community).where(Community.name == "hope"))
        await moderation.appoint(session, a.settings, await session.get(Actor, user.actor_id), row,
                                 await session.get(Actor, people["mo"].id))
    hope_url = a.url("/c/hope")
    for inst, name in followers:
        people[name] = await make_person(inst, name)
        await follow_remote(inst, people[name], hope_url)
        await wait_for(lambda: _equals(follow_state(a, people[name].ap_id, hope_url), "accepted"))
        await wait_for(lambda: _equals(software_known(a, inst.settings.domain), "fedisupport"))
    return people


async def by_name(session, name: str) -> Actor:
    return await session.scalar(select(Actor).where(Actor.username == name, Actor.local.is_(True)))


async def write_thread(a, author: Actor) -> Post:
    async def start(session):
        community = await session.scalar(select(Community).where(Community.name == "hope"))
        return await actions.write_thread(session, a.settings, await session.get(Actor, author.id), community,
                                          title="Rough night", body="Anyone else awake?")
    return await act(a, start)


async def reply_from(inst, person: Actor, parent_ap_id: str, body: str) -> Post:
    async def work(session):
        parent = await session.scalar(select(Post).where(Post.ap_id == parent_ap_id))
        return await actions.write_reply(session, inst.settings, await session.get(Actor, person.id), parent, body=body)
    return await act(inst, work)


async def as_moderator(inst, name: str, work):
    async def run(session):
        return await work(session, await by_name(session, name))
    return await act(inst, run)


async def item(inst, ap_id: str) -> InboxItem | None:
    async with inst.sessions() as session:
        return await session.scalar(select(InboxItem).where(InboxItem.ap_id == ap_id))


def settled(inst, ap_id: str):
    async def probe():
        row = await item(inst, ap_id)
        return row if row is not None and row.state != "queued" else None
    return probe


async def signed_post(inst, actor: Actor, inbox: str, doc: dict) -> None:
    """POST an activity signed with a local actor's key of `inst`, as that server would."""
    async with inst.sessions() as session:
        signer = await session.get(Actor, actor.id)
    body = json.dumps(doc).encode()
    headers = sign_request("POST", inbox, {"Content-Type": "application/activity+json"}, body,
                           signer.key_id, signer.private_key_pem)
    async with httpx.AsyncClient() as client:
        response = await client.post(inbox, content=body, headers=headers)
    assert response.status_code == 202, response.text


async def test_a_removal_a_ban_a_lock_and_a_pin_on_a_are_honoured_on_b(start_instance):
    async with start_instance() as a, start_instance() as b:
        people = await hope_with_followers(a, (b, "bob"))
        alice, bob = people["alice"], people["bob"]
        thread = await write_thread(a, alice)
        on_b = await wait_for(post_with(b, thread.ap_id))
        reply = await reply_from(b, bob, thread.ap_id, "Me too. Call me at 555-0100 any time.")
        await wait_for(post_with(a, reply.ap_id))

        # mo removes Bob's reply on A, with a reason: B's copy is removed too.
        async def remove(session, mo):
            post = await session.scalar(select(Post).where(Post.ap_id == reply.ap_id))
            return await moderation.remove_post(session, a.settings, mo, post, "Please don't share phone numbers")
        await as_moderator(a, "mo", remove)
        await wait_for(post_with(b, reply.ap_id, lambda p: p.state == "removed"))
        await wait_for(post_with(b, thread.ap_id, lambda p: p.thread_reply_count == 0))
        async with b.sessions() as session:
            logged = await session.scalar(select(ModAction).where(ModAction.action == "remove"))
            assert logged.reason == "Please don't share phone numbers"
            assert logged.moderator_id == (await session.scalar(select(Actor.id).where(Actor.ap_id == a.url("/c/hope"))))

        # mo bans Bob for a week: B records the ban, and neither B nor A takes his new replies.
        async def ban(session, mo):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            bob_on_a = await session.scalar(select(Actor).where(Actor.ap_id == bob.ap_id))
            return await moderation.ban(session, a.settings, mo, community, bob_on_a, "Repeated sharing of contact details",
                                        expires_at=utcnow() + dt.timedelta(days=7))
        block = await as_moderator(a, "mo", ban)

        async def banned_on_b():
            async with b.sessions() as session:
                return await session.scalar(select(CommunityBan).where(CommunityBan.actor_id == bob.id))
        entry = await wait_for(banned_on_b)
        assert entry.ap_id == block.ap_id and entry.expires_at is not None
        assert entry.reason == "Repeated sharing of contact details"
        with pytest.raises(DomainError):  # B's own check
            await reply_from(b, bob, thread.ap_id, "Sorry!")
        # Going around B (a Create signed by Bob straight to A) changes nothing: A refuses it.
        note_id = b.url("/p/424242")
        create = {"@context": CONTEXT, "id": note_id + "/activity", "type": "Create", "actor": bob.ap_id,
                  "to": [a.url("/c/hope")], "cc": [AS_PUBLIC],
                  "object": {"id": note_id, "type": "Note", "attributedTo": bob.ap_id, "inReplyTo": thread.ap_id,
                             "content": "<p>You can't stop me</p>", "to": [a.url("/c/hope")], "cc": [AS_PUBLIC]}}
        await signed_post(b, bob, a.url("/inbox"), create)
        refused = await wait_for(settled(a, create["id"]))
        assert refused.state == "rejected" and "banned" in refused.error
        assert await post_with(a, note_id)() is None

        # Lock and pin the thread: B shows it locked and pinned.
        async def lock_and_pin(session, mo):
            post = await session.get(Post, thread.id)
            await moderation.lock_thread(session, a.settings, mo, post, locked=True, reason="Taking a pause")
            await moderation.pin_thread(session, a.settings, mo, post, pinned=True)
        await as_moderator(a, "mo", lock_and_pin)
        await wait_for(post_with(b, thread.ap_id, lambda p: p.locked and p.pinned))

        # Lifting the ban, restoring the reply and unlocking reach B as well.
        async def undo_all(session, mo):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            bob_on_a = await session.scalar(select(Actor).where(Actor.ap_id == bob.ap_id))
            await moderation.unban(session, a.settings, mo, community, bob_on_a, "Talked it through")
            post = await session.scalar(select(Post).where(Post.ap_id == reply.ap_id))
            await moderation.restore_post(session, a.settings, mo, post)
            await moderation.lock_thread(session, a.settings, mo, await session.get(Post, thread.id), locked=False)
        await as_moderator(a, "mo", undo_all)
        await wait_for(post_with(b, reply.ap_id, lambda p: p.state == "published"))
        await wait_for(post_with(b, thread.ap_id, lambda p: not p.locked and p.thread_reply_count == 1))
        await wait_for(_gone(banned_on_b))
        assert on_b.id == (await post_with(b, thread.ap_id)()).id


def _gone(probe):
    async def check():
        return await probe() is None
    return check


async def test_a_remote_non_moderator_is_refused_and_a_remote_moderator_is_believed(start_instance):
    async with start_instance() as a, start_instance() as b:
        people = await hope_with_followers(a, (b, "bob"))
        alice, bob = people["alice"], people["bob"]
        thread = await write_thread(a, alice)
        await wait_for(post_with(b, thread.ap_id))

        def lock(n: int) -> dict:
            return {"@context": CONTEXT, "id": b.url(f"/activities/lock-{n}"), "type": "Lock", "actor": bob.ap_id,
                    "object": thread.ap_id, "to": [AS_PUBLIC], "cc": [a.url("/c/hope")], "summary": "closing"}
        removal = {"@context": CONTEXT, "id": b.url("/activities/remove-1"), "type": "Delete", "actor": bob.ap_id,
                   "object": thread.ap_id, "to": [AS_PUBLIC], "cc": [a.url("/c/hope")], "summary": "I don't like it"}
        for doc in (lock(1), removal):
            await signed_post(b, bob, a.url("/c/hope/inbox"), doc)
            refused = await wait_for(settled(a, doc["id"]))
            assert refused.state == "rejected" and "not a moderator" in refused.error, refused.error
        row = await post_with(a, thread.ap_id)()
        assert row.state == "published" and not row.locked

        # Once A appoints Bob, his Lock is taken, and A's community announces it to B, which
        # believes it because hope's moderators collection (at A) lists Bob.
        async def appoint(session, olga):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            bob_on_a = await session.scalar(select(Actor).where(Actor.ap_id == bob.ap_id))
            await moderation.appoint(session, a.settings, await by_name(session, "ada"), community, bob_on_a)
        await as_moderator(a, "olga", appoint)
        await signed_post(b, bob, a.url("/c/hope/inbox"), lock(2))
        done = await wait_for(settled(a, lock(2)["id"]))
        assert done.state == "done", done.error
        await wait_for(post_with(a, thread.ap_id, lambda p: p.locked))
        await wait_for(post_with(b, thread.ap_id, lambda p: p.locked))
        async with b.sessions() as session:
            announce = await session.scalar(select(InboxItem).where(InboxItem.type == "Announce",
                                                                    InboxItem.body.contains("lock-2")))
            assert announce.state == "done", announce.error
            assert json.loads(announce.body)["object"]["id"] == lock(2)["id"]  # passed on unchanged


async def test_a_community_cannot_act_on_another_communitys_posts_or_vouch_for_a_stranger(start_instance):
    async with start_instance() as a, start_instance() as b, start_instance() as c:
        people = await hope_with_followers(a, (b, "bob"))
        alice, bob = people["alice"], people["bob"]
        # C hosts a second community that Bob follows too.
        await make_community(c, "elsewhere")
        await follow_remote(b, bob, c.url("/c/elsewhere"))
        await wait_for(lambda: _equals(follow_state(c, bob.ap_id, c.url("/c/elsewhere")), "accepted"))
        await wait_for(lambda: _equals(follow_state(b, bob.ap_id, c.url("/c/elsewhere")), "accepted"))
        thread = await write_thread(a, alice)
        await wait_for(post_with(b, thread.ap_id))
        async with c.sessions() as session:
            elsewhere = await session.scalar(select(Actor).where(Actor.ap_id == c.url("/c/elsewhere")))

        def announce(n: int, inner: dict) -> dict:
            return {"@context": CONTEXT, "id": c.url(f"/activities/announce-{n}"), "type": "Announce",
                    "actor": elsewhere.ap_id, "object": inner, "to": [AS_PUBLIC]}
        # 1. elsewhere (on C) announces its own Lock of a thread that lives in hope.
        own_lock = {"id": c.url("/activities/lock-1"), "type": "Lock", "actor": elsewhere.ap_id,
                    "object": thread.ap_id, "to": [AS_PUBLIC]}
        # 2. elsewhere announces a removal "by" mo, hope's moderator, who is no moderator of elsewhere.
        stranger = {"id": a.url("/activities/forged-delete"), "type": "Delete", "actor": people["mo"].ap_id,
                    "object": thread.ap_id, "to": [AS_PUBLIC], "summary": "gone"}
        for n, inner in ((1, own_lock), (2, stranger)):
            await signed_post(c, elsewhere, b.url("/inbox"), announce(n, inner))
            refused = await wait_for(settled(b, announce(n, inner)["id"]))
            assert refused.state == "rejected", (refused.state, refused.error)
        errors = [(await item(b, announce(n, {})["id"])).error for n in (1, 2)]
        assert "not in the community" in errors[0] and "not a moderator" in errors[1], errors
        row = await post_with(b, thread.ap_id)()
        assert row.state == "published" and not row.locked


async def test_a_report_forwarded_from_a_reaches_b_as_mastodons_flag(start_instance):
    async with start_instance() as a, start_instance() as b:
        people = await hope_with_followers(a, (b, "bob"))
        alice, bob = people["alice"], people["bob"]
        thread = await write_thread(a, alice)
        await wait_for(post_with(b, thread.ap_id))
        reply = await reply_from(b, bob, thread.ap_id, "Buy cheap watches at spam.example")
        on_a = await wait_for(post_with(a, reply.ap_id))

        async def report_and_forward(session, mo):
            report = await reports.create_report(session, reporter=await by_name(session, "alice"),
                                                    post=await session.get(Post, on_a.id), reason="spam link",
                                                    category="spam")
            return report.id, await reports.forward_report(session, a.settings, mo, report.id,
                                                              "Spam from one of your accounts in our community")
        report_id, flag = await as_moderator(a, "mo", report_and_forward)
        assert flag["actor"] == a.url("/actor") and flag["object"] == [bob.ap_id, reply.ap_id]
        assert flag["to"] == [bob.ap_id] and "alice" not in json.dumps(flag)

        async def report_on_b():
            async with b.sessions() as session:
                return await session.scalar(select(Report).where(Report.ap_id == flag["id"]))
        received = await wait_for(report_on_b)
        assert received.target_actor_id == bob.id and received.post_id == reply.id
        assert received.reason == "Spam from one of your accounts in our community" and received.state == "open"
        async with b.sessions() as session:
            reporter = await session.get(Actor, received.reporter_id)
            assert reporter.ap_id == a.url("/actor") and reporter.kind == "application"
            # B's admins see it in their queue (there are no communities of B's involved).
            entries = await mod_queue.open_reports(session, None)
            assert [e.report.id for e in entries] == [received.id]
            assert entries[0].remote_reporter_host == a.settings.domain

        # B's admins stop taking reports from A: the next Flag is refused.
        async with db.transaction(b.sessions) as session:
            session.add(DomainPolicy(domain=a.settings.domain, severity="noop", reject_reports=True))
        flag2 = await as_moderator(a, "mo", lambda session, mo: reports.forward_report(
            session, a.settings, mo, report_id, "again"))
        refused = await wait_for(settled(b, flag2["id"]))
        assert refused.state == "rejected" and "not accepted" in refused.error


async def test_a_held_remote_reply_is_announced_only_after_approval(start_instance):
    async with start_instance() as a, start_instance() as b, start_instance() as c:
        people = await hope_with_followers(a, (b, "bob"), (c, "carol"))
        alice, bob = people["alice"], people["bob"]
        async with db.transaction(a.sessions) as session:  # A's admins hold replies that mention a phone number
            session.add(KeywordRule(pattern="phone", action="hold"))
        thread = await write_thread(a, alice)
        await wait_for(post_with(b, thread.ap_id))
        await wait_for(post_with(c, thread.ap_id))
        reply = await reply_from(b, bob, thread.ap_id, "Can I give you my phone number?")
        held_on_a = await wait_for(post_with(a, reply.ap_id, lambda p: p.state == "held"))
        async with a.sessions() as session:
            held = await session.scalar(select(HeldItem).where(HeldItem.post_id == held_on_a.id))
            assert held.state == "pending" and held.inbox_item_id is not None
        assert (await post_with(a, thread.ap_id)()).thread_reply_count == 0
        # Nothing has gone to C; let the queues run a moment to be sure.
        another = await reply_from(a, alice, thread.ap_id, "Welcome, everyone.")
        await wait_for(post_with(c, another.ap_id))
        assert await post_with(c, reply.ap_id)() is None

        async def approve(session, mo):
            return await moderation.decide_held(session, a.settings, mo, held.id, approve=True)
        await as_moderator(a, "mo", approve)
        on_c = await wait_for(post_with(c, reply.ap_id))
        assert on_c.state == "published"
        await wait_for(post_with(a, thread.ap_id, lambda p: p.thread_reply_count == 2))
        async with c.sessions() as session:
            announce = await session.scalar(select(InboxItem).where(InboxItem.type == "Announce",
                                                                    InboxItem.body.contains(reply.ap_id)))
            body = json.loads(announce.body)
            assert body["actor"] == a.url("/c/hope") and body["object"]["actor"] == bob.ap_id  # Bob's own Create
