"""Backfill: fetch the replies of a remote thread we only saw part of (see backfill_queue).

Asked for when a remote thread arrives and when someone opens it; done by the worker, never in
the way of a page. Bounded in pages, fetches and time, and not repeated within a cooldown.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from sqlalchemy import select, update

from ..activitypub.fetch import FetchError
from ..db import write_transaction
from ..activitypub.jsonld import as_list, get_id
from ..activitypub.origin import same_origin
from ..activitypub.vocab import APObject, Invalid, parse_object
from ..models import Actor, FetchRequest, Post, utcnow
from ..models.queues import DONE
from ..remote.objects import POST_TYPES, ObjectUnavailable, fetch_post
from ..services import Services
from .context import Context, Ignored, Rejected, RetryLater
from .post_handlers import ingest

log = logging.getLogger("fedisupport.remote")
MAX_PAGES = 20
MAX_NEW_POSTS = 200
DEADLINE = 120.0  # seconds for one thread


async def _collection_items(services: Services, url: str, signer) -> AsyncIterator[Any]:
    """Items of a (paged) collection, page by page, within MAX_PAGES."""
    doc = await services.client.get_json(url, signer=signer)
    page: Any = doc.get("first", doc)
    for _ in range(MAX_PAGES):
        if isinstance(page, str):
            if not same_origin(page, url):
                return  # pages of a collection live with it
            page = await services.client.get_json(page, signer=signer)
        if not isinstance(page, dict):
            return
        for item in as_list(page.get("orderedItems", page.get("items"))):
            yield item
        page = page.get("next")
        if not page:
            return


async def backfill_thread(services: Services, thread_ap_id: str) -> int:
    """Walk the thread's `context` (FEP-7888), else its `replies`; store posts we lack."""
    try:
        note = await fetch_post(services, thread_ap_id)
    except ObjectUnavailable as exc:
        log.info("backfill of %s: %s", thread_ap_id, exc.reason)
        return 0
    collection = note.context if note.context and note.context.startswith("http") and same_origin(note.context, note.id) \
        else note.replies
    if not collection:
        return 0
    signer = await services.instance_signer()
    stored = 0
    async with asyncio.timeout(DEADLINE):
        async for item in _collection_items(services, collection, signer):
            if stored >= MAX_NEW_POSTS:
                break
            item_id = get_id(item)
            if not item_id or item_id == thread_ap_id:
                continue
            async with services.sessions() as session:
                known = await session.scalar(select(Post.id).where(Post.ap_id == item_id))
            if known:
                continue
            # Fetched before the write transaction: on SQLite that holds the one write lock.
            obj = _embedded_post(item, collection) or await _fetch_quietly(services, item_id)
            if obj is None:
                continue
            # Read-then-write: a deferred SQLite transaction would fail at once with "database is
            # locked" when the worker committed in between (db.write_transaction).
            async with write_transaction(services.sessions) as session:
                author = await session.scalar(select(Actor).where(Actor.ap_id == obj.attributed_to))
                context = Context(services, session, activity=None, actor=author)
                try:
                    async with session.begin_nested():
                        post, created = await ingest(context, obj, announced_by=None)
                except (Ignored, Rejected, RetryLater) as exc:
                    log.info("backfill of %s skipped %s: %s", thread_ap_id, item_id, exc)
                    continue
                stored += int(bool(created))
    return stored


def _embedded_post(item: Any, collection: str) -> APObject | None:
    """An embedded post counts only when it lives on the collection's own host."""
    if not isinstance(item, dict) or item.get("type") not in POST_TYPES:
        return None
    try:
        obj = parse_object(item)
    except Invalid:
        return None
    return obj if isinstance(obj, APObject) and same_origin(obj.id, collection) else None


async def _fetch_quietly(services: Services, url: str) -> APObject | None:
    try:
        return await fetch_post(services, url)
    except (ObjectUnavailable, FetchError):
        return None


async def run_requests(services: Services, claim, limit: int = 5) -> int:
    """Claim queued backfills and run them one by one."""
    async with write_transaction(services.sessions) as session:
        ids = await claim(session, FetchRequest, limit)
        rows = list((await session.execute(select(FetchRequest.id, FetchRequest.url)
                                           .where(FetchRequest.id.in_(ids)))).all()) if ids else []
    for row in rows:
        try:
            stored = await backfill_thread(services, row.url)
            result = f"{stored} new posts"
        except (TimeoutError, FetchError) as exc:
            result = f"stopped: {exc}"
        except Exception as exc:
            log.exception("backfill of %s failed", row.url)
            result = f"failed: {type(exc).__name__}: {exc}"
        async with write_transaction(services.sessions) as session:
            await session.execute(update(FetchRequest).where(FetchRequest.id == row.id).values(
                state=DONE, done_at=utcnow(), locked_until=None, attempts=FetchRequest.attempts + 1,
                result=result[:2000]))
    return len(rows)
