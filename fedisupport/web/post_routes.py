"""Our posts as JSON for other servers: the Note, its `replies` and its thread's `context`.

Mastodon 4.4 walks `replies` (first page embedded, same host only); FEP-7888/FEP-f228 readers
walk `context`. Both page by keyset, so a thread of half a million replies costs the same per
page as a thread of ten.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, tuple_
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activitypub import render
from ..activitypub.notes import note_document, tombstone
from ..models import Actor, Post
from ..models.content import DELETED, PUBLIC, PUBLISHED, UNLISTED
from ..outbox import distribute
from ..domain import small_groups
from ..models.content import MEMBERS
from .ap_routes import ap_response
from .signed_fetch import signer_of
from .negotiation import vary_accept, wants_activitypub
from .paging import decode_cursor, encode_cursor

POST_CACHE = "public, max-age=60"


async def _local_post(request: Request) -> Post | None:
    """One of our posts that this request may read: members-only ones only for a signed member."""
    try:
        post_id = int(request.path_params["post_id"])
    except ValueError:
        return None
    async with request.app.state.sessions() as session:
        post = await session.get(Post, post_id)
    if post is None or not post.local:
        return None
    if post.visibility == MEMBERS and await _signed_by_member(request, post):
        return post
    if post.visibility not in (PUBLIC, UNLISTED):
        return None  # 404 as if it did not exist, to strangers and non-members alike
    return post


async def _signed_by_member(request: Request, post: Post) -> bool:
    signer = await signer_of(request)
    if signer is None:
        return False
    async with request.app.state.sessions() as session:
        actor = await session.scalar(select(Actor).where(Actor.ap_id == signer, Actor.local.is_(False)))
        return await small_groups.is_member(session, actor, post.community_id)


def _cache(post: Post) -> str:
    """Members-only answers are for the one member who asked: never kept by a shared cache."""
    return "private, no-store" if post.visibility == MEMBERS else POST_CACHE


def _visibilities(post: Post) -> tuple[str, ...]:
    """A members-only thread's collections list its members-only replies (to the member asking)."""
    return (PUBLIC, UNLISTED, MEMBERS) if post.visibility == MEMBERS else (PUBLIC, UNLISTED)


def _not_found() -> Response:
    return Response('{"error":"not found"}', status_code=404, media_type="application/activity+json")


async def _keyset_page(request: Request, condition: Any, cursor: str | None,
                       visibilities: tuple[str, ...] = (PUBLIC, UNLISTED)) -> tuple[list[str], str | None]:
    """Ids of shown posts matching `condition`, oldest first, after `cursor`; and the next cursor."""
    size = request.app.state.settings.page_size
    query = (select(Post.ap_id, Post.published_at, Post.id)
             .where(condition, Post.state == PUBLISHED, Post.visibility.in_(visibilities))
             .order_by(Post.published_at, Post.id).limit(size + 1))
    after = decode_cursor(cursor)
    if after:
        # A row comparison, so both databases seek the index instead of scanning from the start.
        query = query.where(tuple_(Post.published_at, Post.id) > after)
    async with request.app.state.sessions() as session:
        rows = (await session.execute(query)).all()
    more = len(rows) > size
    rows = rows[:size]
    return [r.ap_id for r in rows], (encode_cursor(rows[-1].published_at, rows[-1].id) if more else None)


async def _replies_page(request: Request, post: Post, cursor: str | None) -> dict[str, Any]:
    """One page of a post's direct replies, as ids (peers fetch each from its origin)."""
    base = post.ap_id + "/replies"
    items, next_cursor = await _keyset_page(request, Post.parent_id == post.id, cursor, _visibilities(post))
    page = render.ordered_collection_page(base + "?page=" + (cursor or "first"), base, items,
                                          next=base + "?page=" + next_cursor if next_cursor else None)
    page.pop("@context", None)
    return page


async def _replies_collection(request: Request, post: Post) -> dict[str, Any]:
    first = await _replies_page(request, post, None)
    collection = render.ordered_collection(post.ap_id + "/replies", post.reply_count, first=None)
    collection.pop("@context", None)
    collection["first"] = first
    return collection


async def post_json(request: Request) -> Response:
    post = await _local_post(request)
    if post is None:
        return _not_found()
    if post.state == DELETED:
        return await ap_response(request, tombstone(post), 410, negotiated=True)
    if post.state != PUBLISHED:
        return _not_found()
    async with request.app.state.sessions() as session:
        author = await session.get(Actor, post.author_id)
        community = await session.get(Actor, post.community_id) if post.community_id else None
        parent_author = None
        if post.parent_id is not None:
            parent = await session.get(Post, post.parent_id)
            parent_author = await session.get(Actor, parent.author_id) if parent else None
        translations = await distribute.published_translations(session, post)
    replies = await _replies_collection(request, post)
    document = note_document(post, author, community=community, parent_author=parent_author, replies=replies,
                             translations=translations)
    return await ap_response(request, document, cache_control=_cache(post), negotiated=True)


async def post(request: Request) -> Response:
    if wants_activitypub(request):
        return await post_json(request)
    from . import pages

    return vary_accept(await pages.post_page(request))


async def replies(request: Request) -> Response:
    post = await _local_post(request)
    if post is None or post.state != PUBLISHED:
        return _not_found()
    cursor = request.query_params.get("page")
    if cursor is None:
        return await ap_response(request, {"@context": render.AS_CONTEXT, **await _replies_collection(request, post)},
                                 cache_control=_cache(post))
    page = await _replies_page(request, post, None if cursor == "first" else cursor)
    return await ap_response(request, {"@context": render.AS_CONTEXT, **page}, cache_control=_cache(post))


async def context(request: Request) -> Response:
    """Every post of a thread, the opening post first (FEP-7888 / FEP-f228)."""
    thread = await _local_post(request)
    if thread is None or not thread.is_thread or thread.state != PUBLISHED:
        return _not_found()
    base = thread.context_ap_id or thread.ap_id + "/context"
    cursor = request.query_params.get("page")
    if cursor is None:
        doc = render.ordered_collection(base, thread.thread_reply_count + 1, first=base + "?page=first")
        doc["attributedTo"] = thread.ap_id
        return await ap_response(request, doc, cache_control=_cache(thread))
    items, next_cursor = await _keyset_page(request, Post.thread_id == thread.id, None if cursor == "first" else cursor,
                                            _visibilities(thread))
    page = render.ordered_collection_page(base + "?page=" + cursor, base, items,
                                          next=base + "?page=" + next_cursor if next_cursor else None)
    return await ap_response(request, page, cache_control=_cache(thread))


def routes() -> list[Route]:
    return [
        Route("/p/{post_id}", post, name="post"),
        Route("/p/{post_id}/replies", replies),
        Route("/p/{post_id}/context", context),
    ]
