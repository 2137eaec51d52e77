"""Group commit: rows that arrive together share a transaction, and one bad row fails alone."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from fedisupport.inbox.writer import InboxWriter
from fedisupport.models import InboxItem, utcnow


def row(n: int, **changes) -> dict:
    values = {"ap_id": f"https://r.example/a/{n}", "actor_ap_id": "https://r.example/u", "type": "Like",
              "body": "{}", "recipient_id": None, "state": "queued", "attempts": 0,
              "next_attempt_at": utcnow(), "received_at": utcnow()}
    values.update(changes)
    return values


async def test_a_bad_row_fails_alone_and_the_rest_are_stored(instance):
    writer = InboxWriter(instance.services)
    writer.start()
    try:
        rows = [row(1), row(2, body=None), row(3), row(1)]  # a NOT NULL violation, and a repeat
        results = await asyncio.gather(*(writer.store(r) for r in rows), return_exceptions=True)
    finally:
        await writer.stop()
    assert results[0] is None and results[2] is None and results[3] is None
    assert isinstance(results[1], Exception)
    async with instance.sessions() as session:
        stored = list(await session.scalars(select(InboxItem.ap_id).order_by(InboxItem.ap_id)))
    assert stored == ["https://r.example/a/1", "https://r.example/a/3"]
