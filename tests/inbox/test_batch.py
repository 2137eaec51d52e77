"""The inbox worker's batches (inbox/batch.py) on a real database, fed by signed POSTs.

One activity that fails inside a batch fails alone; a worker killed between claiming rows and
committing them loses nothing and applies nothing twice; afterwards every count equals the
rows it counts, and every Like or reply taken is announced exactly once.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections import Counter

from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text, update

from fedisupport import db
from fedisupport.activitypub.jsonld import AS_PUBLIC
from fedisupport.domain import actions
from fedisupport.models import Actor, Community, CommunityBan, Follow, InboxItem, Instance, Like, OutboxActivity, Post, utcnow
from fedisupport.worker import Worker
from tests.federation.test_follow import make_community, make_person
from tests.support.remote import FakeRemote, signed_post
from tests.support.waiting import wait_for

INBOX = "/inbox"


async def _thread(inst) -> Post:
    await make_community(inst, "hope")
    alice = await make_person(inst, "alice")
    async with db.transaction(inst.sessions) as session:
        community = await session.scalar(select(Community).where(Community.name == "hope"))
        return await actions.write_thread(session, inst.settings, await session.get(Actor, alice.id), community,
                                          title="A hard week", body="Is anyone else finding this week hard?")


async def _forum_follower(inst, remote: FakeRemote) -> None:
    """A follower of the community on a forum host, so every Like and reply is announced to it."""
    remote.add_actor("reader")
    follow = remote.activity("reader", "Follow", inst.url("/c/hope"))
    assert (await signed_post(remote, "reader", inst.url(INBOX), follow)).status_code == 202
    await _drain(inst)
    async with db.transaction(inst.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(Follow).where(Follow.state == "accepted")) == 1
        # As NodeInfo would say; checked just now, so the worker does not ask the fake server.
        await session.execute(update(Instance).where(Instance.host == remote.domain)
                              .values(software="lemmy", software_checked_at=utcnow()))


def _reply(remote: FakeRemote, name: str, n: int, parent: str) -> tuple[dict, str]:
    note_id = remote.url(f"/notes/{name}-{n}")
    note = {"id": note_id, "type": "Note", "attributedTo": remote.url(f"/users/{name}"), "inReplyTo": parent,
            "content": f"<p>You are not alone ({name}, {n}).</p>", "to": [AS_PUBLIC],
            "published": "2026-01-01T00:00:00Z"}
    return remote.activity(name, "Create", note, to=[AS_PUBLIC]), note_id


async def _send(inst, remote: FakeRemote, activities: list[tuple[str, dict]]) -> None:
    for name, activity in activities:
        response = await signed_post(remote, name, inst.url(INBOX), activity)
        assert response.status_code == 202, response.text


async def _drain(inst) -> None:
    worker = Worker(inst.services)
    for _ in range(100):
        if await worker.run_inbox_batch() == 0:
            return
    raise AssertionError("the inbox did not drain")


async def _scalar(inst, statement):
    async with inst.sessions() as session:
        return await session.scalar(statement)


async def _states(inst) -> Counter:
    async with inst.sessions() as session:
        return Counter(dict((await session.execute(select(InboxItem.state, func.count()).group_by(InboxItem.state))).all()))


async def assert_consistent(inst, remote: FakeRemote) -> dict[str, int]:
    """Counts equal the rows they count; each counted Like or reply from `remote` has exactly one Announce."""
    async with inst.sessions() as session:
        posts = list(await session.scalars(select(Post)))
        likes = Counter(post_id for post_id, in (await session.execute(select(Like.post_id))).all())
        children = Counter(p.parent_id for p in posts if p.parent_id is not None and p.state == "published")
        in_thread = Counter(p.thread_id for p in posts if not p.is_thread and p.state == "published")
        for post in posts:
            assert post.like_count == likes[post.id], post.ap_id
            assert post.reply_count == children[post.id], post.ap_id
            if post.is_thread:
                assert post.thread_reply_count == in_thread[post.id], post.ap_id
        announced = Counter()
        for body in await session.scalars(select(OutboxActivity.body).where(OutboxActivity.type == "Announce")):
            inner = json.loads(body)["object"]
            if isinstance(inner, dict) and inner["id"].startswith(remote.base_url):  # not the local thread's
                announced[inner["id"]] += 1
        like_ids = set(await session.scalars(select(Like.ap_id).where(Like.ap_id.is_not(None))))
        remote_replies = sum(1 for p in posts if not p.local and p.state == "published")
    assert all(n == 1 for n in announced.values()), announced.most_common(3)
    # Every Like counted was announced; so was every reply (a Create), and nothing else.
    assert like_ids <= set(announced), like_ids - set(announced)
    assert len(announced) == len(like_ids) + remote_replies
    return {"likes": sum(likes.values()), "replies": remote_replies}


async def test_one_failing_activity_fails_alone_and_is_applied_once_when_retried(start_instance):
    async with start_instance(run_worker_in_serve=False) as inst, FakeRemote() as remote:
        thread = await _thread(inst)
        await _forum_follower(inst, remote)
        names = [f"p{i}" for i in range(6)]
        for name in names:
            remote.add_actor(name)
        activities, replies = [], []
        for i, name in enumerate(names):
            create, note_id = _reply(remote, name, 0, thread.ap_id)
            activities += [(name, create), (name, remote.activity(name, "Like", thread.ap_id))]
            if replies:
                activities.append((name, remote.activity(name, "Like", replies[-1])))
            replies.append(note_id)
        activities.append(("p0", remote.activity("p0", "Like", thread.ap_id)))  # a second Like: counted once
        await _send(inst, remote, activities)

        # p3's likes hit a database error (a trigger stands in for any failing statement).
        p3 = await _scalar(inst, select(Actor.id).where(Actor.ap_id == remote.url("/users/p3")))
        async with inst.services.engine.begin() as conn:
            await _poison(conn, p3)
        await _drain(inst)
        states = await _states(inst)
        assert states == {"done": len(activities) + 1 - 2, "queued": 2}, states  # +1: the Follow
        async with inst.sessions() as session:
            failed = list(await session.scalars(select(InboxItem).where(InboxItem.state == "queued")))
        assert {json.loads(item.body)["actor"] for item in failed} == {remote.url("/users/p3")}
        assert all(item.attempts == 1 and "poisoned" in item.error for item in failed)
        counted = await assert_consistent(inst, remote)
        assert counted == {"likes": 6 + 5 - 2, "replies": 6}

        # The retry, once the database takes it: applied once, nothing else repeated.
        async with inst.services.engine.begin() as conn:
            await _cure(conn)
        async with db.transaction(inst.sessions) as session:
            await session.execute(update(InboxItem).where(InboxItem.state == "queued").values(next_attempt_at=utcnow()))
        await _drain(inst)
        assert await _states(inst) == {"done": len(activities) + 1}
        assert await assert_consistent(inst, remote) == {"likes": 6 + 5, "replies": 6}
        thread_now = await _scalar(inst, select(Post).where(Post.id == thread.id))
        assert (thread_now.like_count, thread_now.reply_count, thread_now.thread_reply_count) == (6, 6, 6)


async def _poison(conn, actor_id: int) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("CREATE FUNCTION poisoned() RETURNS trigger AS $$ BEGIN "
                                "RAISE EXCEPTION 'poisoned'; END $$ LANGUAGE plpgsql"))
        await conn.execute(text(f"CREATE TRIGGER poison BEFORE INSERT ON likes FOR EACH ROW "
                                f"WHEN (NEW.actor_id = {int(actor_id)}) EXECUTE FUNCTION poisoned()"))
    else:
        await conn.execute(text(f"CREATE TRIGGER poison BEFORE INSERT ON likes WHEN NEW.actor_id = {int(actor_id)} "
                                "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"))


async def _cure(conn) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("DROP TRIGGER poison ON likes"))
        await conn.execute(text("DROP FUNCTION poisoned()"))
    else:
        await conn.execute(text("DROP TRIGGER poison"))


async def test_a_like_that_overtakes_its_post_waits_for_it(start_instance):
    async with start_instance(run_worker_in_serve=False) as inst, FakeRemote() as remote:
        thread = await _thread(inst)
        await _forum_follower(inst, remote)
        remote.add_actor("ann")
        remote.add_actor("ben")
        create, note_id = _reply(remote, "ann", 0, thread.ap_id)
        await _send(inst, remote, [("ben", remote.activity("ben", "Like", note_id))])
        await _drain(inst)
        async with inst.sessions() as session:
            like = await session.scalar(select(InboxItem).where(InboxItem.type == "Like"))
        assert (like.state, like.attempts) == ("queued", 1), (like.state, like.error)

        await _send(inst, remote, [("ann", create)])  # the reply arrives after all
        await _drain(inst)
        async with db.transaction(inst.sessions) as session:
            await session.execute(update(InboxItem).where(InboxItem.state == "queued").values(next_attempt_at=utcnow()))
        await _drain(inst)
        assert await _states(inst) == {"done": 3}  # and the Follow
        reply = await _scalar(inst, select(Post).where(Post.ap_id == note_id))
        assert reply.like_count == 1
        await assert_consistent(inst, remote)


async def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(start_instance):
    async with start_instance(run_worker_in_serve=False) as inst, FakeRemote() as remote:
        thread = await _thread(inst)
        await _forum_follower(inst, remote)
        names = [f"q{i}" for i in range(10)]
        for name in names:
            remote.add_actor(name)
        activities, replies = [], []
        for round_ in range(12):
            for name in names:
                create, note_id = _reply(remote, name, round_, thread.ap_id)
                activities.append((name, create))
                if round_ == 0:
                    activities.append((name, remote.activity(name, "Like", thread.ap_id)))
                for earlier in replies[-2:]:
                    activities.append((name, remote.activity(name, "Like", earlier)))
                replies.append(note_id)
        await _send(inst, remote, activities)
        total = len(activities) + 1  # and the Follow
        assert (await _states(inst))["queued"] == len(activities)

        # A real `fedisupport worker` process, killed (SIGKILL) once it has committed some rows.
        proc = _worker_process(inst)
        try:
            await wait_for(lambda: _done_so_far(inst, total), timeout=60, interval=0.005)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        states = await _states(inst)
        assert states["queued"] > 0, ("the worker finished before it was killed", states)
        leased = await _leased(inst)
        assert leased  # claimed by the dead worker, not committed
        await assert_consistent(inst, remote)

        # Its lease still holds: another worker takes the rows it never claimed, leaves its own alone
        # (Likes of replies among them wait for those replies) ...
        await _drain(inst)
        assert await _leased(inst) == leased
        await assert_consistent(inst, remote)
        # ... until the lease runs out; then they are handled exactly once.
        async with db.transaction(inst.sessions) as session:
            await session.execute(update(InboxItem).where(InboxItem.state == "queued")
                                  .values(locked_until=utcnow() - dt.timedelta(seconds=1), next_attempt_at=utcnow()))
        await _drain(inst)
        async with db.transaction(inst.sessions) as session:  # the Likes that waited
            await session.execute(update(InboxItem).where(InboxItem.state == "queued").values(next_attempt_at=utcnow()))
        await _drain(inst)
        assert await _states(inst) == {"done": total}
        counted = await assert_consistent(inst, remote)
        assert counted["replies"] == len(replies)
        assert counted["likes"] == sum(1 for _, a in activities if a["type"] == "Like")


async def _leased(inst) -> set[int]:
    async with inst.sessions() as session:
        return set(await session.scalars(select(InboxItem.id).where(
            InboxItem.state == "queued", InboxItem.locked_until > utcnow())))


def _worker_process(inst) -> subprocess.Popen:
    env = {**os.environ, "FEDISUPPORT_DATA_DIR": str(inst.settings.data_dir), "FEDISUPPORT_DOMAIN": inst.settings.domain,
           "DATABASE_URL": inst.settings.database_url, "FEDISUPPORT_ALLOW_PRIVATE_ADDRESSES": "true",
           "FEDISUPPORT_INSECURE_HTTP": "true"}
    return subprocess.Popen([sys.executable, "-m", "fedisupport", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _done_so_far(inst, total: int) -> bool:
    done = (await _states(inst))["done"]
    return done > 1  # the Follow was done before; any more means the worker committed a transaction


async def test_a_run_of_likes_is_written_together_and_counted_once(start_instance):
    async with start_instance(run_worker_in_serve=False) as inst, FakeRemote() as remote:
        thread = await _thread(inst)
        await _forum_follower(inst, remote)
        names = [f"l{i}" for i in range(12)]
        for name in names:
            remote.add_actor(name)
        # l0's Like was taken in an earlier batch; its second Like (another id) must not count again.
        await _send(inst, remote, [("l0", remote.activity("l0", "Like", thread.ap_id))])
        await _drain(inst)
        again = remote.activity("l1", "Like", thread.ap_id)
        activities = [(name, remote.activity(name, "Like", thread.ap_id)) for name in names]
        activities += [("l1", again),  # the same Like re-sent
                       ("l2", remote.activity("l2", "Like", thread.ap_id)),  # a second Like, another id
                       ("l4", remote.activity("l4", "Like", remote.url("/notes/never-arrived")))]
        await _send(inst, remote, activities)
        async with db.transaction(inst.sessions) as session:  # l5 is banned from the community
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            l5 = await session.scalar(select(Actor.id).where(Actor.ap_id == remote.url("/users/l5")))
            session.add(CommunityBan(community_id=community.id, actor_id=l5, reason="spam"))

        statements: list[str] = []

        def seen(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        sa_event.listen(inst.services.engine.sync_engine, "before_cursor_execute", seen)
        try:
            await _drain(inst)
        finally:
            sa_event.remove(inst.services.engine.sync_engine, "before_cursor_execute", seen)

        async with inst.sessions() as session:
            rows = {(json.loads(i.body)["actor"].rsplit("/", 1)[1], i.state, i.error)
                    for i in await session.scalars(select(InboxItem).where(InboxItem.type == "Like"))}
        assert any(r[0] == "l5" and r[1] == "rejected" and "banned from" in r[2] for r in rows), rows
        assert any(r[0] == "l4" and r[1] == "queued" for r in rows), rows  # waits for its post
        assert {r[1] for r in rows if r[0] not in ("l4", "l5")} == {"done"}, rows
        thread_now = await _scalar(inst, select(Post).where(Post.id == thread.id))
        assert thread_now.like_count == len(names) - 1  # all but the banned one, each once
        counted = await assert_consistent(inst, remote)
        assert counted == {"likes": len(names) - 1, "replies": 0}
        # The run went in together: far fewer INSERTs into likes than Likes handled.
        like_inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO LIKES")]
        assert 1 <= len(like_inserts) <= 2, like_inserts
        announces = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO OUTBOX_ACTIVITIES")]
        assert len(announces) <= 2, announces

        # The unknown post's Like, after its waits: ignored, nothing counted.
        for _ in range(5):
            async with db.transaction(inst.sessions) as session:
                await session.execute(update(InboxItem).where(InboxItem.state == "queued")
                                      .values(next_attempt_at=utcnow()))
            await _drain(inst)
        assert (await _states(inst))["queued"] == 0
        assert await assert_consistent(inst, remote) == counted
