"""Setting a benchmark's stage in the server's database with fedisupport's own models and domain code.

Used between `fedisupport init` and `serve` (or, for a new thread, while it runs): the opening
post is written by `actions.write_thread` exactly as the web form does, and remote followers are
rows as a real Follow would leave them (an accepted follow, the follower's actor row, and its
instance known to run Lemmy, so it counts as forum software and receives every Announce).
"""
from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from common import ADMIN, COMMUNITY, Server
from fedisupport import db
from fedisupport.domain import accounts, actions
from fedisupport.models import Actor, Community, Follow, Instance, utcnow
from fedisupport.models.social import ACCEPTED


async def _with_session(server: Server, work) -> Any:
    settings = server.settings()
    engine = db.create_engine(settings)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            return await work(session, settings)
    finally:
        await engine.dispose()


def write_thread(server: Server, title: str = "What helped you through a hard week?") -> dict[str, Any]:
    async def work(session, settings):
        community = await accounts.community_by_name(session, COMMUNITY)
        author = await accounts.local_actor_by_name(session, settings, ADMIN)
        thread = await actions.write_thread(session, settings, author, community, title=title,
                                            body="Tell us what got you through. Every reply is read.")
        group = await session.get(Actor, community.actor_id)
        return {"id": thread.id, "ap_id": thread.ap_id, "community": group.ap_id, "community_actor_id": group.id}

    return asyncio.run(_with_session(server, work))


def add_followers(server: Server, hosts: list[str], *, software: str = "lemmy") -> int:
    """One remote follower of the community on each host, with the host's shared inbox."""
    async def work(session, settings):
        community = await accounts.community_by_name(session, COMMUNITY)
        now = utcnow()
        known = set(await session.scalars(select(Instance.host)))
        for n, host in enumerate(hosts):
            actor_id = f"http://{host}/users/follower"
            follower = Actor(ap_id=actor_id, kind="person", local=False, username="follower", domain=host,
                             display_name="Follower", inbox_url=actor_id + "/inbox", shared_inbox_url=f"http://{host}/inbox",
                             followers_url=actor_id + "/followers", fetched_at=now)
            session.add(follower)
            await session.flush()
            session.add(Follow(follower_id=follower.id, target_id=community.actor_id, ap_id=actor_id + "/follows/1",
                               state=ACCEPTED, accepted_at=now))
            if host not in known:
                session.add(Instance(host=host, software=software, software_version="0.19.5", software_checked_at=now,
                                     first_seen_at=now, failure_days=0, consecutive_failures=0, paused=False))
        await session.flush()
        row = await session.get(Community, community.id)
        row.member_count = (row.member_count or 0) + len(hosts)
        return len(hosts)

    return asyncio.run(_with_session(server, work))
