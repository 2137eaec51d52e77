"""The policy between real instances: A hosts a community that B and C follow.

Each instance keeps its own policy. A suspends or limits B, or holds a reply for a keyword,
and we watch what crosses the wire: nothing from a suspended server is stored or passed on;
a limited server's reply waits for a moderator and is never announced to C.
"""
from __future__ import annotations

import json

from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import actions, domain_blocks, site_policy
from fedisupport.domain.domain_blocks import PolicyValues
from fedisupport.domain.site_policy import KeywordValues
from fedisupport.models import Actor, Community, Delivery, HeldItem, InboxItem, OutboxActivity, Post
from fedisupport.outbox import distribute
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.federation.test_threads import act, find_post, post_with, software_known
from tests.support.waiting import wait_for


async def three_instances_around_a_thread(a, b, c):
    """hope@A with bob (B) and carol (C) as members; alice starts a thread that reaches B and C."""
    await make_community(a, "hope")
    alice = await make_person(a, "alice")
    bob = await make_person(b, "bob")
    carol = await make_person(c, "carol")
    hope_url = a.url("/c/hope")
    await follow_remote(b, bob, hope_url)
    await follow_remote(c, carol, hope_url)
    for person in (bob, carol):
        await wait_for(lambda: _equals(follow_state(a, person.ap_id, hope_url), "accepted"))
    for host in (b.settings.domain, c.settings.domain):
        await wait_for(lambda: _equals(software_known(a, host), "fedisupport"))

    async def start(session):
        community = await session.scalar(select(Community).where(Community.name == "hope"))
        return await actions.write_thread(session, a.settings, await session.get(Actor, alice.id), community,
                                          title="How are you today?", body="Say as much or as little as you like.")
    thread = await act(a, start)
    on_b = await wait_for(post_with(b, thread.ap_id))
    await wait_for(post_with(c, thread.ap_id))
    return thread, on_b, bob


async def reply_from_b(b, bob: Actor, on_b: Post, text: str) -> Post:
    async def write(session):
        return await actions.write_reply(session, b.settings, await session.get(Actor, bob.id),
                                         await session.get(Post, on_b.id), body=text)
    return await act(b, write)


async def inbox_item_for(inst, activity_id: str, states=("done", "rejected", "ignored")):
    async def probe():
        async with inst.sessions() as session:
            item = await session.scalar(select(InboxItem).where(InboxItem.ap_id == activity_id))
        return item if item is not None and item.state in states else None
    return await wait_for(probe)


async def announces_of(inst, ap_id: str) -> list[str]:
    """Bodies of the Announces `inst` published that carry `ap_id`, wrapped or as a boost."""
    async with inst.sessions() as session:
        bodies = list(await session.scalars(select(OutboxActivity.body).where(OutboxActivity.type == "Announce")))
    return [body for body in bodies if ap_id in body]


async def create_id_of(inst, post: Post) -> str:
    async with inst.sessions() as session:
        bodies = list(await session.scalars(select(OutboxActivity.body).where(OutboxActivity.type == "Create")))
    return next(json.loads(b)["id"] for b in bodies if post.ap_id in b)


async def test_a_suspended_domains_reply_is_never_stored_nor_announced(start_instance):
    async with start_instance() as a, start_instance() as b, start_instance() as c:
        thread, on_b, bob = await three_instances_around_a_thread(a, b, c)
        await act(a, lambda s: domain_blocks.save_policy(
            s, PolicyValues(b.settings.domain, "suspend", public_comment="harassment"), new=True))

        reply = await reply_from_b(b, bob, on_b, "You all deserve what you get.")

        # A refuses B at the door (403, before any signature work), so B gives up on it at once.
        async def refused():
            async with b.sessions() as session:
                rows = list(await session.scalars(select(Delivery).where(Delivery.host == a.settings.domain,
                                                                        Delivery.state == "failed")))
            return rows
        failed = await wait_for(refused)
        assert {row.last_status for row in failed} == {403}
        assert await find_post(a, reply.ap_id) is None
        async with a.sessions() as session:
            assert await session.scalar(select(InboxItem.id).where(InboxItem.actor_ap_id == bob.ap_id,
                                                                   InboxItem.type == "Create")) is None
        assert await announces_of(a, reply.ap_id) == []
        assert await find_post(c, reply.ap_id) is None

        # Nothing goes out to B either: A's next thread is queued for C only.
        async def another(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            alice = await session.scalar(select(Actor).where(Actor.username == "alice"))
            return await actions.write_thread(session, a.settings, alice, community, title="Evening check-in",
                                              body="How did today go?")
        second = await act(a, another)
        await wait_for(post_with(c, second.ap_id))
        async with a.sessions() as session:
            rows = (await session.execute(select(Delivery.host, OutboxActivity.body).join(OutboxActivity))).all()
        hosts = {host for host, body in rows if second.ap_id in body}
        assert c.settings.domain in hosts and b.settings.domain not in hosts
        assert await find_post(b, second.ap_id) is None


async def test_a_limited_domains_reply_is_held_and_not_announced(start_instance):
    async with start_instance() as a, start_instance() as b, start_instance() as c:
        thread, on_b, bob = await three_instances_around_a_thread(a, b, c)
        await act(a, lambda s: domain_blocks.save_policy(s, PolicyValues(b.settings.domain, "limit"), new=True))

        reply = await reply_from_b(b, bob, on_b, "Hang in there, it gets easier.")
        create_id = await create_id_of(b, reply)
        item = await inbox_item_for(a, create_id)
        assert item.state == "done", item.error

        held_post = await find_post(a, reply.ap_id)
        assert held_post.state == "held"
        async with a.sessions() as session:
            held = await session.scalar(select(HeldItem).where(HeldItem.post_id == held_post.id))
            opening = await session.scalar(select(Post).where(Post.ap_id == thread.ap_id))
            hope = await session.scalar(select(Community).where(Community.name == "hope"))
        assert held.kind == "post" and held.state == "pending" and held.inbox_item_id == item.id
        assert held.community_id == hope.id and "limited" in held.reason
        assert opening.thread_reply_count == 0  # held posts are not counted (nor shown)
        assert await announces_of(a, reply.ap_id) == []

        # Even when a moderator lets it through, a limited server is not amplified.
        async with db.transaction(a.sessions) as session:
            group = await session.get(Actor, hope.actor_id)
            await distribute.announce(session, a.settings, group, json.loads(item.body), boost_note=reply.ap_id)
        assert await announces_of(a, reply.ap_id) == []

        # C never hears of it; a reply from C itself still travels as before.
        assert await find_post(c, reply.ap_id) is None


async def test_a_keyword_held_reply_keeps_its_inbox_item_for_the_announce(start_instance):
    async with start_instance() as a, start_instance() as b, start_instance() as c:
        thread, on_b, bob = await three_instances_around_a_thread(a, b, c)
        await act(a, lambda s: site_policy.save_keyword_rule(s, KeywordValues("sobredosis", language="es")))

        reply = await reply_from_b(b, bob, on_b, "Anoche pensé en una SOBREDOSIS.")
        create_id = await create_id_of(b, reply)
        item = await inbox_item_for(a, create_id)
        assert item.state == "done", item.error
        held_post = await find_post(a, reply.ap_id)
        assert held_post.state == "held"
        async with a.sessions() as session:
            held = await session.scalar(select(HeldItem).where(HeldItem.post_id == held_post.id))
        assert held.inbox_item_id == item.id and "sobredosis" in held.reason
        assert json.loads(item.body)["type"] == "Create"  # what the community announces once approved
        assert await announces_of(a, reply.ap_id) == []

        # An ordinary reply from B goes through and reaches C as usual.
        fine = await reply_from_b(b, bob, on_b, "Thinking of you all tonight.")
        await wait_for(post_with(a, fine.ap_id, lambda p: p.state == "published"))
        await wait_for(post_with(c, fine.ap_id))
        assert await find_post(c, reply.ap_id) is None


async def _equals(awaitable, expected):
    return (await awaitable) == expected
