"""Plain Likes of an inbox batch applied together (issue 7: Likes are 80 % of a viral thread).

A run of consecutive Likes in a batch costs a handful of statements instead of ~8 each: one
multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING` into likes (what it returns are the
new ones), one `like_count` UPDATE per liked post (an executemany), and for the new ones whose
community is here, their Announces and deliveries in one INSERT each.

Only the plain case is taken: the actor is one the batch knows (signature verified at the inbox,
not suspended), the post is one the batch read, published and public, and the policy accepts the
Like outright. Anything else - a post not here yet, a members-only post, a ban, a limited
domain, a body we cannot parse - goes back to the batch's per-activity path (`post_handlers.on_like`),
which says why. So does the whole run if one of its statements fails: it is rolled back to its
savepoint and the Likes are handled one by one, each failing alone.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.vocab import Invalid, parse_activity
from ..db import batch_memo
from ..models import Actor, Like, Post, utcnow
from ..models.content import MEMBERS, PUBLISHED
from ..models.queues import DONE
from ..outbox.distribute import announce_likes
from ..policy.check import check_inbound
from ..policy.decisions import Verdict
from ..services import Services
from .context import Context
from .post_handlers import _community_actor, _community_row
from .process import Claimed, Outcome


@dataclass(frozen=True, slots=True)
class _Plain:
    item: Claimed
    actor: Actor
    post: Post
    community: Actor | None
    raw: dict[str, Any]
    ap_id: str


async def _plain(services: Services, session: AsyncSession, item: Claimed) -> _Plain | None:
    """The Like, when it is the plain case; None sends it to the per-activity path."""
    try:
        activity = parse_activity(json.loads(item.body))
    except (Invalid, ValueError):
        return None
    if activity.type != "Like" or not activity.known:
        return None
    actor = (batch_memo(session, "actors") or {}).get(activity.actor)
    post = (batch_memo(session, "posts") or {}).get(activity.object_id)
    if actor is None or actor.suspended or post is None or post.state != PUBLISHED or post.visibility == MEMBERS:
        return None
    ctx = Context(services, session, activity, actor, item_id=item.id, attempts=item.attempts)
    decision = await check_inbound(session, services.settings, actor=actor, host=actor.domain,
                                   community=await _community_row(ctx, post.community_id))
    if decision.verdict != Verdict.ACCEPT:
        return None
    return _Plain(item, actor, post, await _community_actor(ctx, post), dict(activity.raw), activity.id)


async def apply(services: Services, session: AsyncSession,
                items: list[Claimed]) -> tuple[list[tuple[Claimed, Outcome]], list[Claimed]]:
    """Apply the plain Likes among `items`; returns (their outcomes, the others in arrival order).

    The caller holds the write transaction; the run's writes are in one savepoint of their own.
    """
    plain: list[_Plain] = []
    others: list[Claimed] = []
    for item in items:
        like = await _plain(services, session, item)
        (plain.append if like is not None else others.append)(like or item)
    if len(plain) < 2:
        return [], items  # nothing gained over the usual path
    try:
        async with session.begin_nested():
            await _write(services, session, plain)
    except Exception:
        # The run failed as a whole (one bad row fails a multi-row INSERT): one by one instead,
        # so that only the bad one fails. The rollback expired what the memo holds.
        session.info["batch_memo"] = {}
        return [], items
    return [(like.item, Outcome(DONE, None, like.actor.domain)) for like in plain], others


async def _write(services: Services, session: AsyncSession, plain: list[_Plain]) -> None:
    now = utcnow()
    table = Like.__table__
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    new = set((await session.execute(
        insert(table).values([{"post_id": like.post.id, "actor_id": like.actor.id, "ap_id": like.ap_id,
                               "created_at": now} for like in plain])
        .on_conflict_do_nothing()
        .returning(table.c.post_id, table.c.actor_id, table.c.ap_id))).all())
    if not new:
        return
    counts = Counter(post_id for post_id, _, _ in new)
    posts = Post.__table__
    await session.execute(
        update(posts).where(posts.c.id == bindparam("liked_id"))
        .values(like_count=posts.c.like_count + bindparam("added")),
        [{"liked_id": post_id, "added": n} for post_id, n in sorted(counts.items())])
    # Each new Like is announced once (a re-sent copy in the same run is not new).
    announced: dict[int, tuple[Actor, list[dict[str, Any]]]] = {}
    for like in plain:
        key = (like.post.id, like.actor.id, like.ap_id)
        if key not in new or like.community is None or not like.community.local:
            continue
        new.discard(key)
        announced.setdefault(like.community.id, (like.community, []))[1].append(like.raw)
    for community, likes in announced.values():
        await announce_likes(session, services.settings, community, likes)
