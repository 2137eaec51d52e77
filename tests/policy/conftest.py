"""A fresh, migrated database per test, and a small world to decide about: one site, a local
community, local people, and remote people on a few hosts."""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from fedisupport import db
from fedisupport.domain import accounts
from fedisupport.ids import new_id
from fedisupport.models import Actor, Community, CommunityBan, Follow, Membership, Post, Site, utcnow
from fedisupport.policy import rules
from fedisupport.settings import Settings, build_settings


@dataclass
class World:
    settings: Settings
    engine: object
    sessions: object

    async def __call__(self, work):
        """Run `work(session)` in one committed transaction."""
        async with db.transaction(self.sessions) as session:
            return await work(session)


_names = itertools.count(1)


@pytest.fixture
async def world(databases, tmp_path) -> World:
    url = await databases.anew_url(tmp_path)
    settings = build_settings({"domain": "here.test", "database_url": url}, tmp_path)
    engine = db.create_engine(settings)
    sessions = db.session_factory(engine)
    async with db.transaction(sessions) as session:
        await accounts.ensure_instance_actor(session, settings)
        await accounts.ensure_site(session, "Here", registration_mode="open")
    try:
        yield World(settings, engine, sessions)
    finally:
        await engine.dispose()


async def set_limits(session, **values) -> None:
    await session.execute(update(Site).where(Site.id == 1).values(**values))
    rules.policy_changed(session)


async def local_person(session, settings, name: str | None = None, *, admin: bool = False) -> Actor:
    user = await accounts.create_user(session, settings, name or f"person{next(_names)}", "a long enough password",
                                      is_admin=admin)
    return await session.get(Actor, user.actor_id)


async def community(session, settings, name: str = "hope", **kwargs) -> Community:
    return await accounts.create_community(session, settings, name, name.title(), **kwargs)


async def remote_person(session, host: str, name: str | None = None, **fields) -> Actor:
    name = name or f"remote{next(_names)}"
    actor = Actor(ap_id=f"https://{host}/users/{name}", kind="person", local=False, username=name, domain=host,
                  inbox_url=f"https://{host}/users/{name}/inbox", **fields)
    session.add(actor)
    await session.flush()
    return actor


async def post_in(session, author: Actor, group: Community, *, thread: Post | None = None, state: str = "published",
                  when: dt.datetime | None = None, **fields) -> Post:
    post_id = new_id()
    when = when or utcnow()
    post = Post(id=post_id, ap_id=f"https://{author.domain}/p/{post_id}", local=author.local, author_id=author.id,
                community_id=group.actor_id, thread_id=thread.id if thread else post_id, is_thread=thread is None,
                parent_id=thread.id if thread else None, content_html="<p>hello</p>", state=state,
                published_at=when, last_activity_at=when, **fields)
    session.add(post)
    await session.flush()
    return post


async def follow(session, follower: Actor, target_actor_id: int) -> None:
    session.add(Follow(follower_id=follower.id, target_id=target_actor_id, state="accepted"))
    await session.flush()


async def ban(session, group: Community, actor: Actor, expires_at: dt.datetime | None = None) -> None:
    session.add(CommunityBan(community_id=group.id, actor_id=actor.id, expires_at=expires_at, reason="spam"))
    await session.flush()


async def make_moderator(session, group: Community, actor: Actor) -> None:
    session.add(Membership(community_id=group.id, actor_id=actor.id, role="moderator"))
    await session.flush()
