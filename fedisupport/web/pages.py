"""HTML pages people read. Every page works without JavaScript."""
from __future__ import annotations

import logging

from sqlalchemy import or_, select, tuple_
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain import accounts, languages, site_policy, small_groups
from ..models import Actor, Post
from ..models.content import MEMBERS, PUBLIC, PUBLISHED
from . import auth
from .care import crisis_resources
from .paging import decode_cursor, encode_cursor
from ..i18n import _

log = logging.getLogger("fedisupport.web")


def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


async def home(request: Request) -> Response:
    me = await auth.current_user(request)  # so the header knows who is here
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        communities = await accounts.list_communities(session)
        elsewhere = await accounts.joined_remote_communities(session)
    return auth.apply_cookies(request, render(request, "home.html", site=site, communities=communities,
                                              elsewhere=elsewhere, viewer=me))


async def community_page(request: Request) -> Response:
    """/c/{name} for people: the community's threads by latest activity, and joining it."""
    from . import thread_pages, thread_view

    name = request.path_params["name"].lower()
    from . import small_group_pages

    if await small_group_pages.is_small_group(request, name):
        return await small_group_pages.group_page(request)  # members-only threads: its own page
    page_size = request.app.state.settings.page_size
    cursor = decode_cursor(request.query_params.get("before"))
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        community = await accounts.community_by_name(session, name)
        community_actor = await session.get(Actor, community.actor_id) if community is not None else None
        if community is None or community_actor is None:
            raise HTTPException(404, _("We couldn't find that community."))
        # A remote small group's members-only threads are listed for our people who are its members.
        members_reader = not community.local and await small_groups.may_read_members_only(
            session, me.actor if me else None, community.actor_id)
        query = (
            select(Post, Actor)
            .join(Actor, Actor.id == Post.author_id)
            .where(Post.community_id == community.actor_id, Post.is_thread.is_(True),
                   Post.state == PUBLISHED, Post.visibility.in_((PUBLIC, MEMBERS) if members_reader else (PUBLIC,)))
            .order_by(Post.last_activity_at.desc(), Post.id.desc())
            .limit(page_size + 1)
        )
        if cursor:
            # A row comparison, so both databases seek the index instead of filtering from the top.
            query = query.where(tuple_(Post.last_activity_at, Post.id) < cursor)
        language = languages.primary(request.query_params.get("lang"))
        if language:
            # ?lang=es: threads written in Spanish, also those another server tagged "es-MX".
            query = query.where(or_(Post.language == language, Post.language.like(language + "-%")))
        rows = list((await session.execute(query)).all())
        membership = await thread_view.membership_of(session, me, community_actor)
        care = await crisis_resources(request, session)  # the one-line crisis box
        rules = await site_policy.instance_rules(session, community.id)  # the site's rules, then the community's
    more = len(rows) > page_size
    rows = rows[:page_size]
    next_cursor = encode_cursor(rows[-1][0].last_activity_at, rows[-1][0].id) if more else None
    notice = next((key for key in ("joined", "left", "deleted") if key in request.query_params), None)
    filter_languages = languages.choices(dict.fromkeys([*languages.community_languages(community.languages),
                                                        *([language] if language else [])]))
    response = render(
        request, "community.html", site=site, community=community, threads=rows, next_cursor=next_cursor,
        viewer=me, membership=membership, notice=notice, login_url=thread_pages.login_url, care=care, rules=rules,
        thread_language=language, filter_languages=filter_languages,
        thread_language_name=languages.name_for_reader(language) if language else None,
    )
    if members_reader:
        response.headers["Cache-Control"] = "private, no-store"  # lists members-only threads: for this reader only
    return auth.apply_cookies(request, response)


async def post_page(request: Request) -> Response:
    """/p/{post_id} as HTML (post_routes answers JSON on the same URL and calls this otherwise)."""
    from . import thread_pages

    return await thread_pages.post_page(request)


async def help_page(request: Request) -> Response:
    """/help, "Get help now": crisis services for the reader's region (web/care_pages.py)."""
    from . import care_pages

    return await care_pages.help_page(request)


async def http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", None) if status < 500 else None
    if status >= 500:
        log.exception("error serving %s", request.url.path, exc_info=exc)
    return render(request, "error.html", status_code=status, site=None, status=status, detail=detail)


def exception_handlers() -> dict:
    return {HTTPException: http_error, Exception: http_error}


def routes() -> list[Route]:
    from . import post_actions, small_group_pages, thread_pages

    return [
        *thread_pages.routes(),
        *post_actions.routes(),
        *small_group_pages.routes(),
        Route("/", home, name="home"),
        Route("/c/{name}", community_page, name="community"),
        Route("/help", help_page, name="help"),
    ]
