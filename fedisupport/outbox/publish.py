"""Turn an activity we publish into a stored activity and one delivery row per inbox."""
from __future__ import annotations

import json
from typing import Any, Iterable

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .. import urls
from ..activitypub.jsonld import CONTEXT
from ..activitypub.origin import host_of
from ..ids import token
from ..models import Actor, Delivery, OutboxActivity, utcnow
from ..policy.check import check_delivery
from ..policy.decisions import Verdict
from ..settings import Settings


def new_activity_id(settings: Settings) -> str:
    return urls.activity(settings, token())


def activity(settings: Settings, type_: str, actor: Actor, object_: Any, **fields: Any) -> dict[str, Any]:
    """An activity document with a fresh, dereferenceable id."""
    doc = {"@context": CONTEXT, "id": new_activity_id(settings), "type": type_, "actor": actor.ap_id, "object": object_}
    doc.update(fields)
    return doc


def _insert(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def publish(session: AsyncSession, settings: Settings, actor: Actor, doc: dict[str, Any],
                  inboxes: Iterable[str]) -> OutboxActivity:
    """Store the activity and queue it for every distinct remote inbox, in the caller's transaction."""
    stored = OutboxActivity(ap_id=doc["id"], actor_id=actor.id, type=doc["type"],
                            body=json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    session.add(stored)
    await session.flush()
    now = utcnow()
    own_host = settings.domain
    rows = []
    for inbox in dict.fromkeys(inboxes):  # one row per inbox, first-seen order
        host = host_of(inbox)
        if host == own_host:
            continue  # local recipients are handled in the domain, never over HTTP
        if (await check_delivery(session, host)).verdict == Verdict.REJECT:
            continue  # the delivery checkpoint: suspended domains get nothing
        rows.append({"activity_id": stored.id, "inbox_url": inbox, "host": host, "state": "queued",
                     "attempts": 0, "next_attempt_at": now, "created_at": now})
    if rows:
        await session.execute(_insert(session)(Delivery).on_conflict_do_nothing(), rows)
    return stored


async def publish_many(session: AsyncSession, settings: Settings, actor: Actor, docs: list[dict[str, Any]],
                       inboxes: Iterable[str]) -> None:
    """`publish` for many activities of one actor to the same inboxes: one INSERT for the
    activities, one for their deliveries (an inbox batch announces up to a hundred Likes)."""
    if not docs:
        return
    now = utcnow()
    table = OutboxActivity.__table__
    ids = dict((await session.execute(
        insert(table).values([{"ap_id": doc["id"], "actor_id": actor.id, "type": doc["type"], "created_at": now,
                               "body": json.dumps(doc, ensure_ascii=False, separators=(",", ":"))} for doc in docs])
        .returning(table.c.ap_id, table.c.id))).all())
    targets = []
    for inbox in dict.fromkeys(inboxes):  # as publish(): once per inbox, never our own host or a suspended one
        host = host_of(inbox)
        if host != settings.domain and (await check_delivery(session, host)).verdict != Verdict.REJECT:
            targets.append((inbox, host))
    rows = [{"activity_id": ids[doc["id"]], "inbox_url": inbox, "host": host, "state": "queued", "attempts": 0,
             "next_attempt_at": now, "created_at": now} for doc in docs for inbox, host in targets]
    if rows:
        await session.execute(_insert(session)(Delivery).on_conflict_do_nothing(), rows)


def inboxes_of(actors: Iterable[Actor]) -> list[str]:
    """Where to send something for these actors: shared inboxes collapse many followers into one.

    Actors suspended here get nothing (nothing in, nothing out)."""
    return list(dict.fromkeys(a.shared_inbox_url or a.inbox_url for a in actors if not a.local and not a.suspended))
