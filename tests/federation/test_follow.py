"""Two real instances on loopback, each with its own domain and database, following each other."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from fedisupport import db
from fedisupport.activitypub.signatures import generate_keypair
from fedisupport.domain import accounts, following
from fedisupport.models import Actor, Community, Delivery, Follow, HeldItem, InboxItem, Instance, OutboxActivity
from fedisupport.remote.actors import get_actor
from tests.support.waiting import wait_for


async def make_person(inst, name: str) -> Actor:
    async with db.transaction(inst.sessions) as session:
        user = await accounts.create_user(session, inst.settings, name, "a long enough password")
        return await session.get(Actor, user.actor_id)


async def make_community(inst, name: str, **kwargs) -> Community:
    async with db.transaction(inst.sessions) as session:
        return await accounts.create_community(session, inst.settings, name, name.title(), **kwargs)


async def follow_remote(inst, person: Actor, target_url: str) -> None:
    async with db.transaction(inst.sessions) as session:
        target = await get_actor(inst.services, session, target_url)
        follower = await session.get(Actor, person.id)
        await following.follow(session, inst.settings, follower, target)
    inst.services.work_available.set()


async def follow_state(inst, follower_ap_id: str, target_ap_id: str) -> str | None:
    async with inst.sessions() as session:
        return await session.scalar(
            select(Follow.state).join(Actor, Actor.id == Follow.follower_id)
            .where(Actor.ap_id == follower_ap_id,
                   Follow.target_id == select(Actor.id).where(Actor.ap_id == target_ap_id).scalar_subquery()))


async def member_count(inst, name: str) -> int:
    async with inst.sessions() as session:
        return await session.scalar(select(Community.member_count).where(Community.name == name))


async def test_follow_is_accepted_with_a_signed_accept_and_undone(start_instance):
    async with start_instance() as a, start_instance() as b:
        await make_community(a, "hope")
        bob = await make_person(b, "bob")
        hope_url = a.url("/c/hope")

        await follow_remote(b, bob, hope_url)
        assert await wait_for(lambda: _eq(follow_state(b, bob.ap_id, hope_url), "accepted"))
        assert await follow_state(a, bob.ap_id, hope_url) == "accepted"
        assert await member_count(a, "hope") == 1

        # The Accept B received was signed by A's community and verified against its key.
        async with b.sessions() as session:
            accept = await session.scalar(select(InboxItem).where(InboxItem.type == "Accept"))
        assert accept.state == "done", accept.error
        assert json.loads(accept.body)["actor"] == hope_url

        # Unfollow: B sends Undo(Follow); A forgets the follow and the count drops.
        async with db.transaction(b.sessions) as session:
            target = await get_actor(b.services, session, hope_url)
            await following.unfollow(session, b.settings, await session.get(Actor, bob.id), target)
        b.services.work_available.set()
        assert await wait_for(lambda: _eq(follow_state(a, bob.ap_id, hope_url), None, want_none=True))
        assert await member_count(a, "hope") == 0


async def test_a_rotated_key_is_refetched_and_verified(start_instance):
    async with start_instance() as a, start_instance() as b:
        await make_community(a, "hope")
        bob = await make_person(b, "bob")
        hope_url = a.url("/c/hope")
        await follow_remote(b, bob, hope_url)
        assert await wait_for(lambda: _eq(follow_state(a, bob.ap_id, hope_url), "accepted"))

        # B rotates bob's key; A still holds the old one in its cache and database.
        private_pem, public_pem = generate_keypair()
        async with db.transaction(b.sessions) as session:
            actor = await session.get(Actor, bob.id)
            actor.private_key_pem, actor.public_key_pem = private_pem, public_pem
            target = await get_actor(b.services, session, hope_url)
            await following.unfollow(session, b.settings, actor, target)
        b.services.work_available.set()
        assert await wait_for(lambda: _eq(follow_state(a, bob.ap_id, hope_url), None, want_none=True))
        async with a.sessions() as session:
            stored = await session.scalar(select(Actor.public_key_pem).where(Actor.ap_id == bob.ap_id))
        assert stored == public_pem


async def test_deliveries_to_a_server_that_is_down_arrive_when_it_is_back(start_instance):
    async with start_instance() as a:
        await make_community(a, "circle", requires_approval=True)
        circle_url = a.url("/c/circle")
        async with start_instance() as b:
            bob = await make_person(b, "bob")
            await follow_remote(b, bob, circle_url)

            async def held() -> int:
                async with a.sessions() as session:
                    return await session.scalar(select(HeldItem.id).where(HeldItem.kind == "follow",
                                                                           HeldItem.state == "pending"))
            held_id = await wait_for(held)
            b_settings = b.settings
        # B is down now. A moderator approves; the Accept cannot be delivered yet.
        async with db.transaction(a.sessions) as session:
            await following.decide_held_follow(session, a.settings, held_id, approve=True)
        a.services.work_available.set()

        async def delivery() -> Delivery | None:
            async with a.sessions() as session:
                row = await session.scalar(select(Delivery).join(OutboxActivity).where(OutboxActivity.type == "Accept"))
                return row if row is not None and row.attempts >= 1 else None
        failed = await wait_for(delivery)
        assert failed.state == "queued" and failed.next_attempt_at > failed.created_at
        assert failed.last_error
        async with a.sessions() as session:
            host = await session.get(Instance, b_settings.domain)
            assert host.consecutive_failures >= 1

        # B comes back on the same address; the retry (brought forward, as time would) arrives.
        async with start_instance(settings=b_settings) as b_again:
            async with db.transaction(a.sessions) as session:
                row = await session.get(Delivery, failed.id)
                row.next_attempt_at = row.created_at
            a.services.work_available.set()
            assert await wait_for(lambda: _eq(follow_state(b_again, bob.ap_id, circle_url), "accepted"))
            async with a.sessions() as session:
                row = await session.get(Delivery, failed.id)
                assert row.state == "sent" and row.attempts == 2
                assert await session.scalar(select(func.count()).select_from(Delivery)
                                            .where(Delivery.state == "sent")) == 1
                assert (await session.get(Instance, b_settings.domain)).consecutive_failures == 0


async def _eq(awaitable, expected, want_none: bool = False):
    value = await awaitable
    if want_none:
        return value is None
    return value == expected
