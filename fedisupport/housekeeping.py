"""Forgetting what is no longer needed: handled queue rows, ended sessions, deleted accounts' keys.

A viral thread leaves millions of received activities (each with its whole JSON body and the
sender's signature) and as many deliveries behind. Once handled they serve no one: keeping them
grows the database without end and keeps more about people than we need (docs/privacy.md). Rows
that went wrong stay longer, so an admin can still see what happened.

The worker runs `prune` beside its queues about hourly. Each batch is its own short transaction,
so SQLite's single writer is never held for long and a viral hour's backlog is cleared over a few
passes rather than in one long lock.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import db
from .models import Actor, Delivery, InboxItem, utcnow
from .models.auth import PasswordReset, WebSession
from .models.queues import DONE, ERRORED, FAILED, GIVEN_UP, IGNORED, REJECTED, SENT, FetchRequest

log = logging.getLogger("fedisupport.housekeeping")

KEEP_HANDLED = dt.timedelta(days=7)
# A deleted account's Delete is signed with its key at send time and retried for about three days
# (outbox/deliver.py); after that nothing is ever signed as it again, so the key can go.
KEEP_DELETED_KEYS = dt.timedelta(days=7)
KEEP_FAILED = dt.timedelta(days=30)
BATCH = 2_000
MAX_BATCHES_PER_PASS = 50  # at most 100,000 rows of each kind per pass; the next pass goes on


@dataclass(frozen=True)
class Rule:
    name: str
    model: type
    states: tuple[str, ...]
    keep: dt.timedelta


# The claim indexes are (state, next_attempt_at). A handled row's next_attempt_at is its last
# attempt, so it dates the row well enough, and the delete walks an index instead of the table.
RULES = (
    Rule("received activities handled", InboxItem, (DONE, IGNORED, REJECTED), KEEP_HANDLED),
    Rule("received activities that failed", InboxItem, (ERRORED,), KEEP_FAILED),
    Rule("deliveries sent", Delivery, (SENT,), KEEP_HANDLED),
    Rule("deliveries that failed", Delivery, (FAILED, GIVEN_UP), KEEP_FAILED),
    Rule("fetches done", FetchRequest, (DONE,), KEEP_HANDLED),
)


async def _delete_batch(session: AsyncSession, rule: Rule, cutoff: dt.datetime) -> int:
    model = rule.model
    ids = select(model.id).where(model.state.in_(rule.states), model.next_attempt_at < cutoff).limit(BATCH)
    result = await session.execute(delete(model).where(model.id.in_(ids)))
    return result.rowcount or 0


async def prune(sessions: async_sessionmaker[AsyncSession], now: dt.datetime | None = None) -> dict[str, int]:
    """Delete handled rows past their keeping time, ended sessions and deleted accounts' private
    keys; returns what was removed, by kind."""
    now = now or utcnow()
    removed: dict[str, int] = {}
    for rule in RULES:
        total = 0
        for _ in range(MAX_BATCHES_PER_PASS):
            async with db.write_transaction(sessions) as session:
                count = await _delete_batch(session, rule, now - rule.keep)
            total += count
            if count < BATCH:
                break
        removed[rule.name] = total
    async with db.write_transaction(sessions) as session:
        result = await session.execute(delete(WebSession).where(WebSession.expires_at < now))
        removed["ended sessions"] = result.rowcount or 0
        result = await session.execute(delete(PasswordReset).where(PasswordReset.expires_at < now))
        removed["expired password links"] = result.rowcount or 0
        result = await session.execute(
            update(Actor).where(Actor.local.is_(True), Actor.deleted_at < now - KEEP_DELETED_KEYS,
                                Actor.private_key_pem.is_not(None))
            .values(private_key_pem=None))
        removed["private keys of deleted accounts"] = result.rowcount or 0
    if any(removed.values()):
        log.info("housekeeping removed %s", ", ".join(f"{n} {what}" for what, n in removed.items() if n))
    return removed
