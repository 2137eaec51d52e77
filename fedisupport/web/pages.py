"""HTML pages people read. Every page works without JavaScript."""
from __future__ import annotations

import logging

from sqlalchemy import and_, or_, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain import accounts
from ..models import Actor, Community, Post
from ..models.content import PUBLIC, PUBLISHED
from .paging import decode_cursor, encode_cursor

log = logging.getLogger("fedisupport.web")


def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


async def home(request: Request) -> Response:
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        communities = await accounts.list_communities(session)
    return render(request, "home.html", site=site, communities=communities)


async def community_page(request: Request) -> Response:
    name = request.path_params["name"].lower()
    page_size = request.app.state.settings.page_size
    cursor = decode_cursor(request.query_params.get("before"))
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        community = await accounts.community_by_name(session, name)
        if community is None:
            raise HTTPException(404, "We couldn't find that community.")
        query = (
            select(Post, Actor)
            .join(Actor, Actor.id == Post.author_id)
            .where(Post.community_id == community.actor_id, Post.is_thread.is_(True),
                   Post.state == PUBLISHED, Post.visibility == PUBLIC)
            .order_by(Post.last_activity_at.desc(), Post.id.desc())
            .limit(page_size + 1)
        )
        if cursor:
            when, row_id = cursor
            query = query.where(or_(Post.last_activity_at < when, and_(Post.last_activity_at == when, Post.id < row_id)))
        rows = list((await session.execute(query)).all())
    more = len(rows) > page_size
    rows = rows[:page_size]
    next_cursor = encode_cursor(rows[-1][0].last_activity_at, rows[-1][0].id) if more else None
    return render(request, "community.html", site=site, community=community, threads=rows, next_cursor=next_cursor)


async def post_page(request: Request) -> Response:
    try:
        post_id = int(request.path_params["post_id"])
    except ValueError:
        raise HTTPException(404, "We couldn't find that post.") from None
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        row = (await session.execute(
            select(Post, Actor).join(Actor, Actor.id == Post.author_id).where(Post.id == post_id, Post.local.is_(True))
        )).first()
        if row is None or row[0].state != PUBLISHED or row[0].visibility != PUBLIC:
            raise HTTPException(404, "We couldn't find that post. It may have been removed.")
        post, author = row
        community = await session.scalar(select(Community).where(Community.actor_id == post.community_id))
    return render(request, "post.html", site=site, post=post, author=author, community=community)


async def help_page(request: Request) -> Response:
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
    return render(request, "help.html", site=site)


async def http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", None) if status < 500 else None
    if status >= 500:
        log.exception("error serving %s", request.url.path, exc_info=exc)
    return render(request, "error.html", status_code=status, site=None, status=status, detail=detail)


def exception_handlers() -> dict:
    return {HTTPException: http_error, Exception: http_error}


def routes() -> list[Route]:
    return [
        Route("/", home, name="home"),
        Route("/c/{name}", community_page, name="community"),
        Route("/p/{post_id}", post_page, name="post"),
        Route("/help", help_page, name="help"),
    ]
