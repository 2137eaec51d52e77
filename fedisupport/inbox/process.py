"""The worker's step for one received activity: parse, check, handle, all in one transaction."""
from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy import update

from ..activitypub.vocab import Invalid, parse_activity
from ..models import InboxItem, Instance, utcnow
from ..models.queues import DONE, ERRORED, IGNORED, QUEUED, REJECTED
from ..remote.actors import ActorUnavailable, get_actor
from ..services import Services
from .context import Context, Ignored, Rejected, RetryLater
from .handlers import HANDLERS

log = logging.getLogger("fedisupport.inbox")
GIVE_UP_AFTER = dt.timedelta(days=3)


def _finish(item: InboxItem, state: str, error: str | None = None) -> None:
    item.state = state
    item.error = error
    item.processed_at = utcnow()
    item.locked_until = None


async def process_item(services: Services, item_id: int) -> str:
    """Handle one claimed item; returns its new state. Unexpected errors propagate (and retry)."""
    async with services.sessions() as session, session.begin():
        item = await session.get(InboxItem, item_id)
        if item is None or item.state != QUEUED:
            return item.state if item else "missing"
        try:
            activity = parse_activity(json.loads(item.body))
        except (Invalid, ValueError) as exc:
            _finish(item, REJECTED, f"malformed: {exc}")
            return item.state
        handler = HANDLERS.get(activity.type) if activity.known else None
        if handler is None:
            _finish(item, IGNORED, f"{activity.type} is not handled")
            return item.state
        try:
            actor = await get_actor(services, session, activity.actor)
        except ActorUnavailable as exc:
            raise RetryLater(exc.reason) from None
        # Any signed request from a host shows it is alive: resume deliveries to it.
        await session.execute(update(Instance).where(Instance.host == actor.domain, Instance.paused.is_(True))
                              .values(paused=False, failure_days=0, consecutive_failures=0, paused_until=None))
        if actor.suspended:
            _finish(item, REJECTED, "the actor is suspended here")
            return item.state
        try:
            async with session.begin_nested():
                await handler(Context(services, session, activity, actor, item_id=item.id))
        except Rejected as exc:
            _finish(item, REJECTED, exc.reason)
        except Ignored as exc:
            _finish(item, IGNORED, str(exc))
        else:
            _finish(item, DONE)
        return item.state


async def record_failure(services: Services, item_id: int, error: str, retry_in: dt.timedelta) -> None:
    """Count a failed attempt; after three days of failures keep the item as errored."""
    async with services.sessions() as session, session.begin():
        item = await session.get(InboxItem, item_id)
        if item is None or item.state != QUEUED:
            return
        item.attempts += 1
        item.error = error[:2000]
        item.locked_until = None
        now = utcnow()
        if now - item.received_at > GIVE_UP_AFTER:
            item.state = ERRORED
            item.processed_at = now
            log.warning("gave up on inbox item %s (%s): %s", item.id, item.ap_id, error)
        else:
            item.next_attempt_at = now + retry_in


__all__ = ["RetryLater", "process_item", "record_failure"]
