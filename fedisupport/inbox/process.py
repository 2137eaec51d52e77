"""The worker's step for one received activity: parse, check, handle.

`handle` is the flow for one activity inside a caller's transaction. `process_item` runs it
alone in its own transaction, where fetches from other servers are allowed; `inbox/batch.py`
runs many in one transaction and sends here the ones that need a fetch.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.vocab import Invalid, parse_activity
from ..db import batch_memo, write_transaction
from ..models import Actor, InboxItem, Instance, utcnow
from ..models.queues import DONE, ERRORED, IGNORED, QUEUED, REJECTED
from ..remote.actors import ActorUnavailable, get_actor
from ..services import Services
from .context import Context, Ignored, NeedsNetwork, Rejected, RetryLater
from .handlers import HANDLERS

log = logging.getLogger("fedisupport.inbox")
GIVE_UP_AFTER = dt.timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed inbox row, as the worker needs it."""

    id: int
    body: str
    attempts: int
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str  # done | rejected | ignored
    error: str | None = None
    host: str | None = None  # the sender's host, seen alive


class Refused(Exception):
    """Raised by `handle(..., own_savepoint=False)` when the handler refused or ignored the
    activity: the caller rolls back its savepoint (undoing whatever the handler wrote before it
    said no) and records `outcome`."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


async def handle(services: Services, session: AsyncSession, item: Claimed, *, own_savepoint: bool = True) -> Outcome:
    """Handle one activity in the caller's transaction. RetryLater and unexpected errors propagate.

    The handler runs in a savepoint of its own, so that a refusal undoes its writes and the
    outcome is still recorded; a caller that already holds a savepoint for this activity (an
    inbox batch) passes `own_savepoint=False` and gets `Refused` instead, saving a
    SAVEPOINT/RELEASE pair per activity.
    """
    try:
        activity = parse_activity(json.loads(item.body))
    except (Invalid, ValueError) as exc:
        return Outcome(REJECTED, f"malformed: {exc}")
    handler = HANDLERS.get(activity.type) if activity.known else None
    if handler is None:
        return Outcome(IGNORED, f"{activity.type} is not handled")
    try:
        actor = await _actor(services, session, activity.actor)
    except ActorUnavailable as exc:
        raise RetryLater(exc.reason) from None
    if actor.suspended:
        return Outcome(REJECTED, "the actor is suspended here", actor.domain)
    ctx = Context(services, session, activity, actor, item_id=item.id, attempts=item.attempts)
    try:
        if own_savepoint:
            async with session.begin_nested():
                await handler(ctx)
        else:
            await handler(ctx)
    except Rejected as exc:
        outcome = Outcome(REJECTED, exc.reason, actor.domain)
    except Ignored as exc:
        outcome = Outcome(IGNORED, str(exc), actor.domain)
    else:
        return Outcome(DONE, None, actor.domain)
    if not own_savepoint:
        raise Refused(outcome)
    return outcome


async def _actor(services: Services, session: AsyncSession, ap_id: str | None) -> Actor:
    known = batch_memo(session, "actors")
    if known is not None and ap_id in known:
        return known[ap_id]
    return await get_actor(services, session, ap_id)


async def mark_alive(session: AsyncSession, hosts: Iterable[str | None]) -> None:
    """Any signed request from a host shows it is alive: resume deliveries to it (few are paused)."""
    hosts = sorted({h for h in hosts if h})
    if hosts:
        await session.execute(update(Instance).where(Instance.host.in_(hosts), Instance.paused.is_(True))
                              .values(paused=False, failure_days=0, consecutive_failures=0, paused_until=None))


async def process_item(services: Services, item_id: int) -> str:
    """Handle one claimed item alone; returns its new state. Unexpected errors propagate (and retry)."""
    async with write_transaction(services.sessions) as session:
        # FOR UPDATE (PostgreSQL): a second worker holding a lapsed lease waits, then sees it done.
        item = await session.get(InboxItem, item_id, with_for_update=True)
        if item is None or item.state != QUEUED:
            return item.state if item else "missing"
        outcome = await handle(services, session, Claimed(item.id, item.body, item.attempts, item.received_at))
        await mark_alive(session, [outcome.host])
        item.state = outcome.state
        item.error = outcome.error
        item.processed_at = utcnow()
        item.locked_until = None
        return item.state


def failure_values(item: Claimed, error: str, retry_in: dt.timedelta, now: dt.datetime) -> dict:
    """A failed attempt, counted: retried after `retry_in`, kept as errored after three days."""
    values = {"attempts": item.attempts + 1, "error": error[:2000], "locked_until": None}
    if now - item.received_at > GIVE_UP_AFTER:
        values.update(state=ERRORED, processed_at=now)
    else:
        values["next_attempt_at"] = now + retry_in
    return values


async def record_failure(services: Services, item_id: int, error: str, retry_in: dt.timedelta) -> None:
    """Count a failed attempt; after three days of failures keep the item as errored."""
    async with write_transaction(services.sessions) as session:
        item = await session.get(InboxItem, item_id)
        if item is None or item.state != QUEUED:
            return
        values = failure_values(Claimed(item.id, item.body, item.attempts, item.received_at), error, retry_in, utcnow())
        for name, value in values.items():
            setattr(item, name, value)
        if item.state == ERRORED:
            log.warning("gave up on inbox item %s (%s): %s", item.id, item.ap_id, error)


__all__ = ["Claimed", "NeedsNetwork", "Outcome", "Refused", "RetryLater", "failure_values", "handle", "mark_alive", "process_item",
           "record_failure"]
