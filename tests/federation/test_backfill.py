"""A remote thread seen late is backfilled from its context collection, by the worker."""
from __future__ import annotations

from sqlalchemy import func, select

from fedisupport.domain import actions
from fedisupport.models import Actor, Community, FetchRequest, Post
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.federation.test_threads import _is, act, software_known
from tests.support.waiting import wait_for


async def test_replies_written_before_we_followed_are_fetched(start_instance):
    async with start_instance(page_size=5) as a, start_instance() as b:
        await make_community(a, "hope")
        alice = await make_person(a, "alice")
        bob = await make_person(b, "bob")

        async def seed(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            me = await session.get(Actor, alice.id)
            thread = await actions.write_thread(session, a.settings, me, community, title="Old thread", body="Hello")
            for n in range(12):
                await actions.write_reply(session, a.settings, me, thread, body=f"earlier reply {n}")
            return thread
        thread = await act(a, seed)

        await follow_remote(b, bob, a.url("/c/hope"))

        async def accepted():
            return await follow_state(b, bob.ap_id, a.url("/c/hope")) == "accepted"
        await wait_for(accepted)
        await wait_for(lambda: _is(software_known(a, b.settings.domain), "fedisupport"))

        # A new reply arrives at B; B fetches the thread it belongs to, then the rest of it.
        async def new_reply(session):
            parent = await session.get(Post, thread.id)
            return await actions.write_reply(session, a.settings, await session.get(Actor, alice.id), parent,
                                             body="and a new one")
        await act(a, new_reply)

        async def replies_on_b():
            async with b.sessions() as session:
                on_b = await session.scalar(select(Post).where(Post.ap_id == thread.ap_id))
                if on_b is None:
                    return 0
                return await session.scalar(select(func.count()).select_from(Post).where(Post.thread_id == on_b.id,
                                                                                        Post.is_thread.is_(False)))
        await wait_for(lambda: _at_least(replies_on_b(), 13), timeout=30)
        async def finished():
            async with b.sessions() as session:
                request = await session.scalar(select(FetchRequest).where(FetchRequest.url == thread.ap_id))
            # The request is closed once the whole walk is over, a moment after the last post.
            return request if request is not None and request.state == "done" else None
        request = await wait_for(finished)
        assert request.result.endswith("new posts")
        async with b.sessions() as session:
            on_b = await session.scalar(select(Post).where(Post.ap_id == thread.ap_id))
        assert on_b.thread_reply_count == 13


async def _at_least(awaitable, n):
    value = await awaitable
    return value if value >= n else None
