"""Group commit for received activities: one writer, many requests, one transaction per batch.

One async-ORM transaction per request caps ingest near a thousand a second; batching the
inserts that arrive together keeps the promise "202 only once the row is committed" while
paying for one commit per batch.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..db import sqlite_write_lock
from ..models import InboxItem
from ..services import Services

log = logging.getLogger("fedisupport.inbox")
MAX_BATCH = 500


class InboxWriter:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future]] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        insert = pg_insert if services.engine.dialect.name == "postgresql" else sqlite_insert
        # Built once: a repeated activity id is a no-op (the first copy wins).
        self._statement = insert(InboxItem).on_conflict_do_nothing(index_elements=["ap_id"])

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def store(self, row: dict[str, Any]) -> None:
        """Return once the row is committed (or was there already); raise if the write failed."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((row, future))
        await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write([row for row, _ in batch])
            except Exception:
                # One bad row must not fail the others: write them one by one. Those that still
                # fail answer 5xx, and their senders retry.
                log.exception("storing %d received activities failed; retrying one by one", len(batch))
                for row, future in batch:
                    try:
                        await self._write([row])
                    except Exception as exc:
                        _settle(future, exc)
                    else:
                        _settle(future, None)
            else:
                for _, future in batch:
                    _settle(future, None)
            self.services.work_available.set()

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        # Queued behind this process's other writers (the worker's batches) instead of sleeping
        # in SQLite's busy handler.
        async with sqlite_write_lock(self.services.engine), self.services.engine.begin() as conn:
            await conn.execute(self._statement, rows)


def _settle(future: asyncio.Future, error: Exception | None) -> None:
    if future.done():  # the request gave up waiting (client went away)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
