"""Received activities handled many to a transaction (issue 7, bottleneck B1).

The worker claims up to 200 queued rows and hands their ids here. They are handled in arrival
order, in write transactions of about a tenth of a second each, every activity inside its own
savepoint:

- one bad activity fails alone: its savepoint is rolled back and its failure recorded, as when
  activities were handled one per transaction;
- a transaction pays for one COMMIT (one WAL flush) for all its activities, and what they all
  read (their actors, the posts they like, the community, its followers' inboxes) is read once;
- a crash before the COMMIT keeps nothing of the batch: its rows stay queued and leased, and
  when the lease ends the next worker handles them again, once;
- a batch never waits on another server. It runs with a client that refuses to fetch; an
  activity that needs a fetch (an actor we don't know, a parent post we lack) is rolled back
  and returned to the worker, which handles it alone afterwards (`process.process_item`).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.jsonld import get_id
from ..db import write_transaction
from ..models import Actor, CommunityBan, InboxItem, Post, utcnow
from ..models.queues import LEASE, QUEUED
from ..outbox.deliver import retry_delay
from ..services import Services
from . import bulk_likes
from .context import NeedsNetwork, RetryLater
from .process import Claimed, Outcome, Refused, failure_values, handle, mark_alive

log = logging.getLogger("fedisupport.inbox")
# At most this many activities, for at most about this long, per transaction: on SQLite the
# accept path's group commits wait for the write lock meanwhile.
TRANSACTION_ROWS = 100
TRANSACTION_SECONDS = 0.2
# After these, what the batch read may have changed (follows, deletions, moderation, actors):
# its memo is emptied. Likes and replies change only counts and add posts.
MEMO_SAFE_TYPES = frozenset({"Like", "Create"})


class _OfflineClient:
    """Stands in for the HTTP client inside a batch: any fetch or post means "do this one alone"."""

    async def get_json(self, url: str, *args: Any, **kwargs: Any) -> Any:
        raise NeedsNetwork(url)

    async def post(self, url: str, *args: Any, **kwargs: Any) -> Any:
        raise NeedsNetwork(url)


def offline(services: Services) -> Services:
    # Its own in-flight table: a refused fetch must not be shared with requests that may fetch.
    return dataclasses.replace(services, client=_OfflineClient(), inflight={})


async def process_batch(services: Services, ids: list[int]) -> list[int]:
    """Handle claimed rows; returns the ids of those that need a fetch, for the caller to run alone."""
    batch_services = offline(services)
    pending = sorted(ids)  # ids grow with arrival
    needs_network: list[int] = []
    while pending:
        try:
            pending, deferred = await _transaction(batch_services, pending)
        except Exception:
            # The transaction itself failed (not one activity: those fail in their savepoints).
            # Nothing of it was kept; the caller handles these rows one by one.
            log.exception("an inbox batch of %d failed; handling its activities one by one", len(pending))
            return needs_network + pending
        needs_network += deferred
    return needs_network


async def _transaction(services: Services, ids: list[int]) -> tuple[list[int], list[int]]:
    """One transaction over the first rows of `ids`; returns (ids left for the next one, ids needing a fetch)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TRANSACTION_SECONDS
    ids, left = ids[:TRANSACTION_ROWS], ids[TRANSACTION_ROWS:]
    needs_network: list[int] = []
    outcomes: list[tuple[Claimed, Outcome]] = []
    failures: list[tuple[Claimed, str]] = []
    async with write_transaction(services.sessions) as session:
        items = await _own(session, ids)
        await _start_memo(session, items)
        alone: set[int] = set()  # Likes the bulk path sent back: each through its handler
        n = 0
        while n < len(items):
            if n and loop.time() > deadline:
                left = [later.id for later, _ in items[n:]] + left
                break
            run = _like_run(items, n, alone)
            if len(run) > 1:
                await _remember(session, [(item, "Like") for item in run])  # after a clear, or a new post
                taken, others = await bulk_likes.apply(services, session, run)
                outcomes += taken
                alone.update(item.id for item in others)
                items[n:n + len(run)] = [(item, "Like") for item in others]
                continue
            item, type_ = items[n]
            n += 1
            try:
                # One savepoint per activity: a refusal rolls back to it too (Refused).
                async with session.begin_nested():
                    outcome = await handle(services, session, item, own_savepoint=False)
            except Refused as refused:
                outcomes.append((item, refused.outcome))
            except NeedsNetwork:
                needs_network.append(item.id)
            except RetryLater as exc:
                failures.append((item, str(exc)))
            except Exception as exc:
                log.exception("processing inbox item %s failed", item.id)
                failures.append((item, f"{type(exc).__name__}: {exc}"))
            else:
                outcomes.append((item, outcome))
                if outcome.state == "done" and type_ in MEMO_SAFE_TYPES:
                    continue
            # A savepoint was rolled back (which expires what it changed), or the activity may
            # have changed what the memo holds: read afresh from here on.
            _clear_memo(session)
        await mark_alive(session, (outcome.host for _, outcome in outcomes))
        await _record(session, outcomes, failures)
    return left, needs_network


def _like_run(items: list[tuple[Claimed, str]], start: int, alone: set[int]) -> list[Claimed]:
    """The consecutive Likes from `start` on, for the bulk path (Likes commute with each other)."""
    run = []
    for item, type_ in items[start:]:
        if type_ != "Like" or item.id in alone:
            break
        run.append(item)
    return run


async def _own(session: AsyncSession, ids: list[int]) -> list[tuple[Claimed, str]]:
    """The rows still queued, leased again for this transaction, in arrival order.

    Inside the write transaction, so no other worker finishes one of them before we commit:
    on PostgreSQL the UPDATE locks the rows; on SQLite the transaction holds the write lock. A
    row another worker finished meanwhile (its lease had run out) is left alone.
    """
    now = utcnow()
    table = InboxItem.__table__
    rows = (await session.execute(
        update(table).where(table.c.id.in_(ids), table.c.state == QUEUED)
        .values(locked_until=now + LEASE)
        .returning(table.c.id, table.c.type, table.c.body, table.c.attempts, table.c.received_at)
    )).all()
    rows.sort(key=lambda r: r.id)
    return [(Claimed(r.id, r.body, r.attempts, r.received_at), r.type) for r in rows]


async def _start_memo(session: AsyncSession, items: list[tuple[Claimed, str]]) -> None:
    """Read the batch's actors and the posts its Likes are for, one query each."""
    _clear_memo(session)
    await _remember(session, items)


async def _remember(session: AsyncSession, items: list[tuple[Claimed, str]]) -> None:
    """Add to the memo the actors and liked posts of `items` it does not hold yet."""
    known_actors = session.info["batch_memo"].get("actors", {})
    known_posts = session.info["batch_memo"].get("posts", {})
    actor_ids: set[str] = set()
    liked: set[str] = set()
    for item, type_ in items:
        try:
            doc = json.loads(item.body)
        except ValueError:
            continue  # handle() rejects it
        if not isinstance(doc, dict):
            continue
        actor = get_id(doc.get("actor"))
        if isinstance(actor, str) and actor not in known_actors:
            actor_ids.add(actor)
        if type_ == "Like":
            target = get_id(doc.get("object"))
            if isinstance(target, str) and target not in known_posts:
                liked.add(target)
    if actor_ids:
        memo = session.info["batch_memo"].setdefault("actors", {})
        found = list(await session.scalars(select(Actor).where(Actor.ap_id.in_(actor_ids))))
        for actor in found:
            memo[actor.ap_id] = actor
        # Their community bans, for the policy's inbound check (policy/check.py _active_ban).
        bans: dict[int, list[CommunityBan]] = session.info["batch_memo"].setdefault("bans", {})
        bans.update({actor.id: [] for actor in found})
        if found:
            for ban in await session.scalars(select(CommunityBan).where(
                    CommunityBan.actor_id.in_([actor.id for actor in found]))):
                bans[ban.actor_id].append(ban)
    if liked:
        memo = session.info["batch_memo"].setdefault("posts", {})
        for post in await session.scalars(select(Post).where(Post.ap_id.in_(liked))):
            memo[post.ap_id] = post


def _clear_memo(session: AsyncSession) -> None:
    session.info["batch_memo"] = {}


async def _record(session: AsyncSession, outcomes: list[tuple[Claimed, Outcome]],
                  failures: list[tuple[Claimed, str]]) -> None:
    """The batch's results on its inbox rows: one UPDATE statement for all finished ones."""
    now = utcnow()
    table = InboxItem.__table__
    if outcomes:
        await session.execute(
            update(table).where(table.c.id == bindparam("item_id"))
            .values(state=bindparam("new_state"), error=bindparam("new_error"), processed_at=now, locked_until=None),
            [{"item_id": item.id, "new_state": o.state, "new_error": o.error} for item, o in outcomes])
    for item, error in failures:
        await session.execute(update(table).where(table.c.id == item.id)
                              .values(**failure_values(item, error, retry_delay(1), now)))
