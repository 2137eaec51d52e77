"""Asking for a remote thread's replies to be fetched: a durable request the worker picks up."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import FetchRequest, Post, utcnow
from ..models.queues import QUEUED

BACKFILL = "backfill"
COOLDOWN = dt.timedelta(minutes=15)  # Mastodon waits as long before fetching replies again


def _insert(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def request_backfill(session: AsyncSession, thread: Post) -> None:
    """Queue a backfill of a remote thread, unless one ran within the cooldown."""
    if thread.local or not thread.is_thread:
        return
    now = utcnow()
    await session.execute(_insert(session)(FetchRequest).values(
        purpose=BACKFILL, url=thread.ap_id, state=QUEUED, attempts=0, next_attempt_at=now, requested_at=now,
    ).on_conflict_do_nothing())
    await session.execute(update(FetchRequest).where(
        FetchRequest.purpose == BACKFILL, FetchRequest.url == thread.ap_id, FetchRequest.state != QUEUED,
        FetchRequest.done_at < now - COOLDOWN,
    ).values(state=QUEUED, next_attempt_at=now, requested_at=now, locked_until=None))
