"""Moderation in the domain: who may act, every action with its counts, modlog entries and reports.

Real database (SQLite, or PostgreSQL with FEDISUPPORT_TEST_DATABASE_URL), no HTTP in the way.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select, update

from fedisupport import db
from fedisupport.domain import accounts, actions, mod_queue, moderation, posting, reports
from fedisupport.domain.errors import Conflict, DomainError
from fedisupport.domain.moderation import NotAllowed
from fedisupport.outbox.publish import inboxes_of
from fedisupport.models import (Actor, Community, CommunityBan, Delivery, Follow, HeldItem, Instance, ModAction,
                                OutboxActivity, Post, Report, utcnow)

PASSWORD = "a long enough password"


class World:
    def __init__(self, instance) -> None:
        self.instance = instance
        self.settings = instance.settings
        self.ids: dict[str, int] = {}

    async def actor(self, session, name: str) -> Actor:
        return await session.get(Actor, self.ids[name])

    async def community(self, session, name: str = "hope") -> Community:
        return await session.scalar(select(Community).where(Community.name == name))

    async def post(self, session, post_id: int) -> Post:
        return await session.get(Post, post_id)


@pytest.fixture
async def world(instance) -> World:
    """hope (owned by olga, moderated by mo), calm (owned by nobody), admin ada, members bea and cy;
    a remote person rem; a thread by bea in hope with one reply by cy."""
    w = World(instance)
    async with db.transaction(instance.sessions) as session:
        for name, admin in (("ada", True), ("olga", False), ("mo", False), ("bea", False), ("cy", False)):
            user = await accounts.create_user(session, instance.settings, name, PASSWORD, is_admin=admin)
            w.ids[name] = user.actor_id
        olga = await w.actor(session, "olga")
        hope = await accounts.create_community(session, instance.settings, "hope", "Hope", owner=olga)
        await accounts.create_community(session, instance.settings, "calm", "Calm")
        await accounts.make_moderator(session, instance.settings, "hope", "mo")
        remote = Actor(ap_id="https://far.example/users/rem", kind="person", local=False, username="rem",
                       domain="far.example", inbox_url="https://far.example/users/rem/inbox",
                       shared_inbox_url="https://far.example/inbox")
        session.add(remote)
        await session.flush()
        w.ids["rem"] = remote.id
        thread = await posting.start_thread(session, instance.settings, await w.actor(session, "bea"), hope,
                                            title="Hard week", body="It has been a long week.")
        reply = await posting.reply(session, instance.settings, await w.actor(session, "cy"), thread, body="I hear you.")
        w.ids["thread"], w.ids["reply"] = thread.id, reply.id
    async with instance.sessions() as session:
        # What the setup itself logged and sent (mo's appointment); tests look only past it.
        w.setup_action = await session.scalar(select(func.coalesce(func.max(ModAction.id), 0)))
        w.setup_activity = await session.scalar(select(func.coalesce(func.max(OutboxActivity.id), 0)))
    return w


async def run(world: World, work):
    async with db.transaction(world.instance.sessions) as session:
        return await work(session)


async def counts(world: World) -> tuple[int, int, int]:
    async with world.instance.sessions() as session:
        thread = await session.get(Post, world.ids["thread"])
        community = await world.community(session)
        return thread.reply_count, thread.thread_reply_count, community.thread_count


async def actions_logged(world: World) -> list[str]:
    async with world.instance.sessions() as session:
        return list(await session.scalars(select(ModAction.action).where(ModAction.id > world.setup_action)
                                          .order_by(ModAction.id)))


async def sent(world: World, type_: str) -> list[dict]:
    async with world.instance.sessions() as session:
        bodies = await session.scalars(select(OutboxActivity.body).where(OutboxActivity.type == type_,
                                                                          OutboxActivity.id > world.setup_activity)
                                       .order_by(OutboxActivity.id))
        return [json.loads(b) for b in bodies]


# --- who may moderate -------------------------------------------------------------------------


async def test_owners_moderators_and_admins_moderate_others_do_not(world):
    async def check(session):
        hope, calm = await world.community(session), await world.community(session, "calm")
        allowed = {name: (await moderation.may_moderate(session, await world.actor(session, name), hope),
                          await moderation.may_moderate(session, await world.actor(session, name), calm))
                   for name in ("ada", "olga", "mo", "bea", "rem")}
        assert allowed == {"ada": (True, True), "olga": (True, False), "mo": (True, False),
                           "bea": (False, False), "rem": (False, False)}
        assert await moderation.moderated_community_ids(session, await world.actor(session, "ada")) is None
        assert await moderation.moderated_community_ids(session, await world.actor(session, "mo")) == [hope.id]
        assert await moderation.moderated_community_ids(session, await world.actor(session, "bea")) == []
    await run(world, check)


async def test_appointing_and_dismissing_is_for_owners_and_admins_and_federates(world):
    async def appoint_by(name, who):
        async def work(session):
            await moderation.appoint(session, world.settings, await world.actor(session, name),
                                     await world.community(session), await world.actor(session, who))
        return work

    with pytest.raises(NotAllowed):
        await run(world, await appoint_by("mo", "bea"))
    await run(world, await appoint_by("olga", "bea"))
    with pytest.raises(Conflict):
        await run(world, await appoint_by("ada", "bea"))
    await run(world, await appoint_by("ada", "rem"))  # a moderator from another server

    async def listed(session):
        return {a.username for _, a in await moderation.moderators_of(session, await world.community(session))}
    assert await run(world, listed) == {"olga", "mo", "bea", "rem"}
    adds = await sent(world, "Add")
    hope_url = world.instance.url("/c/hope")
    assert [a["object"] for a in adds] == [world.instance.url("/u/bea"), "https://far.example/users/rem"]
    assert all(a["actor"] == hope_url and a["target"] == hope_url + "/moderators" for a in adds)

    async def dismiss(session):
        hope = await world.community(session)
        with pytest.raises(DomainError):  # the owner stays
            await moderation.dismiss(session, world.settings, await world.actor(session, "ada"), hope,
                                     await world.actor(session, "olga"))
        await moderation.dismiss(session, world.settings, await world.actor(session, "olga"), hope,
                                 await world.actor(session, "bea"))
    await run(world, dismiss)
    assert await run(world, listed) == {"olga", "mo", "rem"}
    [removal] = await sent(world, "Remove")
    assert removal["object"] == world.instance.url("/u/bea") and removal["target"] == hope_url + "/moderators"
    assert await actions_logged(world) == ["appoint", "appoint", "dismiss"]
    async with world.instance.client() as client:
        doc = (await client.get("/c/hope/moderators", headers={"Accept": "application/activity+json"})).json()
    assert doc["orderedItems"] == [world.instance.url("/u/olga"), world.instance.url("/u/mo"),
                                   "https://far.example/users/rem"]


# --- held posts --------------------------------------------------------------------------------


async def hold_reply(world: World, body: str = "held back", author: str = "bea") -> tuple[int, int]:
    async def work(session):
        thread = await world.post(session, world.ids["thread"])
        post = await posting.reply(session, world.settings, await world.actor(session, author), thread, body=body)
        await posting.hold(session, post)
        community = await world.community(session)
        held = HeldItem(kind="post", post_id=post.id, community_id=community.id, reason="first posts are held",
                        urgent=False)
        session.add(held)
        await session.flush()
        return post.id, held.id
    return await run(world, work)


async def test_held_posts_count_only_once_approved(world):
    assert await counts(world) == (1, 1, 1)
    post_id, held_id = await hold_reply(world)
    assert await counts(world) == (1, 1, 1)  # a held reply is not counted

    async def approve(session):
        await moderation.decide_held(session, world.settings, await world.actor(session, "mo"), held_id, approve=True,
                                     reason="fine")
    creates_before = len(await sent(world, "Create"))
    await run(world, approve)
    assert await counts(world) == (2, 2, 1)
    assert len(await sent(world, "Create")) == creates_before + 1  # it goes out only now
    with pytest.raises(Conflict):
        await run(world, approve)
    async with world.instance.sessions() as session:
        held = await session.get(HeldItem, held_id)
        assert held.state == "approved" and held.decided_by_id == world.ids["mo"]
        assert (await session.get(Post, post_id)).state == "published"

    other_id, other_held = await hold_reply(world, "also held")

    async def reject(session):
        await moderation.decide_held(session, world.settings, await world.actor(session, "olga"), other_held,
                                     approve=False)
    await run(world, reject)
    assert await counts(world) == (2, 2, 1)
    async with world.instance.sessions() as session:
        assert (await session.get(Post, other_id)).state == "removed"
    assert await actions_logged(world) == ["approve", "reject"]


async def test_only_moderators_of_the_community_decide_its_queue(world):
    _, held_id = await hold_reply(world)

    async def by(name):
        async def work(session):
            await moderation.decide_held(session, world.settings, await world.actor(session, name), held_id, approve=True)
        return work
    with pytest.raises(NotAllowed):
        await run(world, await by("bea"))
    await run(world, await by("ada"))  # admins can, everywhere


# --- removal, restore ---------------------------------------------------------------------------


async def test_removal_and_restore_keep_counts_and_federate_from_the_community(world):
    async def remove(session):
        return await moderation.remove_post(session, world.settings, await world.actor(session, "mo"),
                                            await world.post(session, world.ids["reply"]), "Shares a phone number")
    assert await run(world, remove) is not None
    assert await counts(world) == (0, 0, 1)
    assert await run(world, remove) is None  # once is enough
    [delete] = await sent(world, "Delete")
    assert delete["actor"] == world.instance.url("/c/hope") and delete["summary"] == "Shares a phone number"
    assert delete["object"] == world.instance.url(f"/p/{world.ids['reply']}")

    async def restore(session):
        return await moderation.restore_post(session, world.settings, await world.actor(session, "mo"),
                                             await world.post(session, world.ids["reply"]))
    assert await run(world, restore) is not None
    assert await counts(world) == (1, 1, 1)
    [undo] = await sent(world, "Undo")
    assert undo["object"]["type"] == "Delete" and undo["object"]["object"] == delete["object"]

    async def remove_thread(session):
        await moderation.remove_post(session, world.settings, await world.actor(session, "olga"),
                                     await world.post(session, world.ids["thread"]), "Off topic")
    await run(world, remove_thread)
    assert (await counts(world))[2] == 0
    assert await actions_logged(world) == ["remove", "restore", "remove"]


async def test_a_stranger_cannot_remove_and_a_deleted_post_cannot_be_removed(world):
    async def by_bea(session):
        await moderation.remove_post(session, world.settings, await world.actor(session, "bea"),
                                     await world.post(session, world.ids["reply"]), "mine now")
    with pytest.raises(NotAllowed):
        await run(world, by_bea)

    async def delete_then_remove(session):
        post = await world.post(session, world.ids["reply"])
        await posting.delete_post(session, post)
        with pytest.raises(DomainError):
            await moderation.remove_post(session, world.settings, await world.actor(session, "mo"), post, "x")
    await run(world, delete_then_remove)
    assert await counts(world) == (0, 0, 1)


# --- bans ----------------------------------------------------------------------------------------


async def test_a_ban_stops_posting_until_it_expires_or_is_lifted(world):
    async def ban(session, **kwargs):
        return await moderation.ban(session, world.settings, await world.actor(session, "mo"),
                                    await world.community(session), await world.actor(session, "cy"),
                                    "Unkind replies", **kwargs)

    async def cy_replies(session):
        return await posting.reply(session, world.settings, await world.actor(session, "cy"),
                                   await world.post(session, world.ids["thread"]), body="again")

    async def cy_starts(session):
        return await posting.start_thread(session, world.settings, await world.actor(session, "cy"),
                                          await world.community(session), title=None, body="new")
    entry = await run(world, lambda s: ban(s, expires_at=utcnow() + dt.timedelta(days=7), remove_data=True))
    assert entry.ap_id and entry.expires_at is not None
    assert await counts(world) == (0, 0, 1)  # removeData took cy's reply
    for attempt in (cy_replies, cy_starts):
        with pytest.raises(DomainError, match="stopped this account"):
            await run(world, attempt)
    [block] = await sent(world, "Block")
    assert block["actor"] == block["target"] == world.instance.url("/c/hope")
    assert block["object"] == world.instance.url("/u/cy") and block["summary"] == "Unkind replies"
    assert block["removeData"] is True and block["expires"].endswith("Z")

    # An expired ban no longer counts.
    async def expire(session):
        await session.execute(update(CommunityBan).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    await run(world, expire)
    await run(world, cy_replies)

    async def bans(session):
        return await moderation.bans_of(session, await world.community(session))
    assert await run(world, bans) == []

    await run(world, lambda s: ban(s))
    with pytest.raises(DomainError):
        await run(world, cy_replies)

    async def unban(session):
        return await moderation.unban(session, world.settings, await world.actor(session, "olga"),
                                      await world.community(session), await world.actor(session, "cy"), "Apologised")
    assert await run(world, unban) is True
    assert await run(world, unban) is False
    await run(world, cy_replies)
    [undo] = await sent(world, "Undo")
    assert undo["object"]["type"] == "Block" and undo["object"]["id"] == (await sent(world, "Block"))[-1]["id"]
    assert await actions_logged(world) == ["ban", "remove_all", "ban", "unban"]


async def test_moderators_and_oneself_cannot_be_banned_and_a_ban_cannot_end_in_the_past(world):
    async def ban(by, who, **kwargs):
        async def work(session):
            await moderation.ban(session, world.settings, await world.actor(session, by),
                                 await world.community(session), await world.actor(session, who), **kwargs)
        return work
    for by, who, kwargs in (("mo", "mo", {}), ("olga", "mo", {}), ("mo", "olga", {}),
                            ("mo", "cy", {"expires_at": utcnow() - dt.timedelta(hours=1)})):
        with pytest.raises(DomainError):
            await run(world, await ban(by, who, **kwargs))
    with pytest.raises(NotAllowed):
        await run(world, await ban("bea", "cy"))


# --- lock, pin, slow mode, suspension ------------------------------------------------------------


async def test_lock_pin_and_slow_mode(world):
    async def lock(session, locked=True):
        return await moderation.lock_thread(session, world.settings, await world.actor(session, "mo"),
                                            await world.post(session, world.ids["thread"]), locked=locked,
                                            reason="Resolved")

    async def bea_replies(session):
        return await posting.reply(session, world.settings, await world.actor(session, "bea"),
                                   await world.post(session, world.ids["thread"]), body="one more")
    await run(world, lock)
    assert await run(world, lock) is None
    with pytest.raises(DomainError, match="locked"):
        await run(world, bea_replies)
    await run(world, lambda s: lock(s, False))
    await run(world, bea_replies)
    [lock_doc] = await sent(world, "Lock")
    assert lock_doc["object"] == world.instance.url(f"/p/{world.ids['thread']}") and lock_doc["summary"] == "Resolved"
    [undo] = await sent(world, "Undo")
    assert undo["object"]["type"] == "Lock"

    async def pin(session, pinned=True):
        return await moderation.pin_thread(session, world.settings, await world.actor(session, "olga"),
                                           await world.post(session, world.ids["thread"]), pinned=pinned)
    await run(world, pin)
    async with world.instance.client() as client:
        featured = (await client.get("/c/hope/featured", headers={"Accept": "application/activity+json"})).json()
    assert featured["orderedItems"] == [world.instance.url(f"/p/{world.ids['thread']}")]
    await run(world, lambda s: pin(s, False))
    [add] = await sent(world, "Add")
    [remove] = await sent(world, "Remove")
    assert add["target"] == remove["target"] == world.instance.url("/c/hope/featured")

    async def reply_is_not_a_thread(session):
        with pytest.raises(DomainError):
            await moderation.pin_thread(session, world.settings, await world.actor(session, "mo"),
                                        await world.post(session, world.ids["reply"]), pinned=True)
    await run(world, reply_is_not_a_thread)

    async def slow(session):
        return await moderation.set_slow_mode(session, await world.actor(session, "mo"),
                                              await world.post(session, world.ids["thread"]), 300)
    entry = await run(world, slow)
    assert entry.reason == "Slow mode one reply every 5 minutes"
    async with world.instance.sessions() as session:
        assert (await session.get(Post, world.ids["thread"])).slow_mode_seconds == 300
    assert await actions_logged(world) == ["lock", "unlock", "pin", "unpin", "slow_mode"]


async def test_only_admins_suspend_and_only_remote_accounts(world):
    async def suspend(by, who, suspended=True):
        async def work(session):
            return await moderation.suspend(session, await world.actor(session, by), await world.actor(session, who),
                                            "Spam wave", suspended=suspended)
        return work
    with pytest.raises(NotAllowed):
        await run(world, await suspend("mo", "rem"))
    with pytest.raises(DomainError):
        await run(world, await suspend("ada", "bea"))
    await run(world, await suspend("ada", "rem"))
    async with world.instance.sessions() as session:
        assert (await session.get(Actor, world.ids["rem"])).suspended
        assert [a.username for a in await moderation.suspended_accounts(session)] == ["rem"]
    await run(world, await suspend("ada", "rem", False))
    assert await actions_logged(world) == ["suspend", "unsuspend"]


# --- reports --------------------------------------------------------------------------------------


async def test_reports_reach_the_right_moderators_welfare_first(world):
    async def report(session):
        reply = await world.post(session, world.ids["reply"])
        first = await reports.create_report(session, reporter=await world.actor(session, "bea"), post=reply,
                                               reason="Breaks rule 2", category="rule")
        worried = await reports.create_report(session, reporter=None, post=reply,
                                                 reason="They sound like they might hurt themselves", category="welfare")
        account = await reports.create_report(session, reporter=await world.actor(session, "bea"),
                                                 target=await world.actor(session, "rem"), reason="Spam", category="spam")
        with pytest.raises(DomainError):
            await reports.create_report(session, reporter=None, target=await world.actor(session, "rem"),
                                           reason="x", category="bogus")
        return first.id, worried.id, account.id
    first, worried, account = await run(world, report)

    async def queue_of(name):
        async def work(session):
            ids = await moderation.moderated_community_ids(session, await world.actor(session, name))
            return [e.report.id for e in await mod_queue.open_reports(session, ids)]
        return work
    assert await run(world, await queue_of("mo")) == [worried, first]  # urgent first; account reports are for admins
    assert await run(world, await queue_of("ada")) == [worried, first, account]
    assert await run(world, await queue_of("bea")) == []

    async def counts_since(session):
        an_hour_ago = utcnow() - dt.timedelta(hours=1)
        return (await reports.reports_since(session, await world.actor(session, "bea"), an_hour_ago),
                await reports.reports_since(session, None, an_hour_ago))
    assert await run(world, counts_since) == (2, 1)

    async def resolve(session):
        with pytest.raises(DomainError):  # not theirs to see
            await reports.resolve_report(session, await world.actor(session, "mo"), account)
        with pytest.raises(DomainError):  # cy's account lives here
            await reports.forward_report(session, world.settings, await world.actor(session, "mo"), first)
        done = await reports.resolve_report(session, await world.actor(session, "mo"), first, "Removed the reply")
        assert done.state == "resolved" and done.resolved_by_id == world.ids["mo"]
        flag = await reports.forward_report(session, world.settings, await world.actor(session, "ada"), account,
                                               "Spam from your server")
        return flag
    flag = await run(world, resolve)
    assert flag["type"] == "Flag" and flag["actor"] == world.instance.url("/actor")
    assert flag["object"] == ["https://far.example/users/rem"] and flag["content"] == "Spam from your server"
    assert flag["to"] == ["https://far.example/users/rem"]
    async with world.instance.sessions() as session:
        assert (await session.get(Report, account)).forwarded_at is not None
        # Reports are not modlog entries.
        assert await session.scalar(select(func.count(ModAction.id)).where(ModAction.id > world.setup_action)) == 0


# --- modlog ----------------------------------------------------------------------------------------


async def test_the_modlog_pages_newest_first_and_keeps_join_decisions_private(world):
    async def many(session):
        mo = await world.actor(session, "mo")
        thread = await world.post(session, world.ids["thread"])
        for _ in range(3):
            await moderation.lock_thread(session, world.settings, mo, thread, locked=True, reason="pause")
            await moderation.lock_thread(session, world.settings, mo, thread, locked=False)
        session.add(ModAction(moderator_id=mo.id, community_id=(await world.community(session)).id,
                              action="approve_member", target_actor_id=world.ids["bea"]))
    await run(world, many)

    async def page(session, before=None):
        return await mod_queue.modlog_page(session, before=before, limit=4)
    first, more = await run(world, page)
    assert more and [e.action.action for e in first] == ["unlock", "lock", "unlock", "lock"]
    last = first[-1].action
    rest, more = await run(world, lambda s: page(s, (last.created_at, last.id)))
    # The oldest entry is the setup's: mo's appointment.
    assert not more and [e.action.action for e in rest] == ["unlock", "lock", "appoint"]
    assert all(e.community.name == "hope" and e.post.id == world.ids["thread"] for e in first + rest[:-1])


async def test_a_removed_threads_boost_is_withdrawn_from_microblog_followers_and_comes_back(world):
    async def setup(session):
        fan = Actor(ap_id="https://toot.example/users/fan", kind="person", local=False, username="fan",
                    domain="toot.example", inbox_url="https://toot.example/users/fan/inbox",
                    shared_inbox_url="https://toot.example/inbox")
        session.add_all([fan, Instance(host="toot.example", software="mastodon")])
        await session.flush()
        community = await world.community(session)
        session.add(Follow(follower_id=fan.id, target_id=community.actor_id, state="accepted",
                           ap_id="https://toot.example/follows/1"))
        await session.flush()
        thread = await actions.write_thread(session, world.settings, await world.actor(session, "bea"), community,
                                            title="Tonight", body="Checking in.")
        return thread.id
    thread_id = await run(world, setup)
    [boost] = [a for a in await sent(world, "Announce") if a["object"] == world.instance.url(f"/p/{thread_id}")]

    async def remove(session):
        await moderation.remove_post(session, world.settings, await world.actor(session, "mo"),
                                     await world.post(session, thread_id), "Not for here")
    await run(world, remove)
    undo = [u for u in await sent(world, "Undo") if u["object"].get("id") == boost["id"]]
    assert len(undo) == 1 and undo[0]["object"]["type"] == "Announce"
    async with world.instance.sessions() as session:
        inboxes = set(await session.scalars(select(Delivery.inbox_url)))
    assert "https://toot.example/inbox" in inboxes

    async def restore(session):
        await moderation.restore_post(session, world.settings, await world.actor(session, "mo"),
                                      await world.post(session, thread_id))
    await run(world, restore)
    boosts = [a for a in await sent(world, "Announce") if a["object"] == world.instance.url(f"/p/{thread_id}")]
    assert len(boosts) == 2  # boosted again


async def test_nothing_is_sent_to_an_account_suspended_here(world):
    async def check(session):
        rem = await world.actor(session, "rem")
        assert inboxes_of([rem]) == ["https://far.example/inbox"]
        await moderation.suspend(session, await world.actor(session, "ada"), rem, "spam")
        assert inboxes_of([rem]) == []
    await run(world, check)


async def test_the_operators_appointment_is_logged_and_federated_like_any_other(world):
    async with world.instance.sessions() as session:
        hope = await world.community(session)
        entry = await session.scalar(select(ModAction).where(ModAction.community_id == hope.id,
                                                             ModAction.action == "appoint",
                                                             ModAction.target_actor_id == world.ids["mo"]))
        group = await session.get(Actor, hope.actor_id)
        sent = list(await session.scalars(select(OutboxActivity).where(OutboxActivity.actor_id == group.id,
                                                                     OutboxActivity.type == "Add")))
    assert entry is not None and entry.moderator_id is None  # the operator acts as no account
    assert any(json.loads(activity.body)["object"].endswith("/u/mo") for activity in sent)
