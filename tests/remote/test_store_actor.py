"""Several processes may meet a new actor at the same moment: one row, and no request fails."""
from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from fedisupport.activitypub.vocab import parse_actor
from fedisupport.models import Actor, Instance
from fedisupport.remote.actors import store_actor


def document(n: int) -> dict:
    base = f"https://race.example/users/u{n}"
    return {"id": base, "type": "Person", "preferredUsername": f"u{n}", "inbox": base + "/inbox",
            "endpoints": {"sharedInbox": "https://race.example/inbox"}}


async def test_concurrent_first_contacts_store_one_row_each(instance):
    async def store(doc: dict) -> int:
        async with instance.sessions() as session, session.begin():
            return (await store_actor(session, parse_actor(doc))).id

    # Each actor met by three "processes" (separate sessions and transactions) at once.
    ids = await asyncio.gather(*(store(document(n)) for n in range(5) for _ in range(3)))
    assert len(set(ids)) == 5
    async with instance.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Actor).where(Actor.domain == "race.example")) == 5
        assert await session.scalar(select(func.count()).select_from(Instance).where(Instance.host == "race.example")) == 1
        stored = await session.scalar(select(Actor).where(Actor.ap_id == document(3)["id"]))
    assert stored.username == "u3" and stored.shared_inbox_url == "https://race.example/inbox"
