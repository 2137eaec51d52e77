"""What people do to posts and communities from their pages: edit, delete, "I hear you", join, leave."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, actions, following, pseudonyms
from ..domain.errors import DomainError
from ..models import Actor, Post
from . import auth
from .forms import text_field
from .paging import encode_cursor
from .thread_pages import (checked_form, community_and_actor, error_field, in_thread, login_url, page,
                           redirect, shown_post, text_fields)
from .thread_view import NOT_FOUND, Item, community_of, is_visible, may_read, post_id_of, viewer_of
from ..i18n import gettext

# --- editing and deleting -------------------------------------------------------------------


async def _own_post(request: Request, session: AsyncSession, me: auth.CurrentUser) -> tuple[Post, Actor, Post]:
    post, author, thread = await shown_post(session, post_id_of(request), me.actor)
    # `author` is who they act as: themself, or their pseudonym that wrote it.
    if await pseudonyms.author_acting_for(session, me.actor, post) is None:
        raise HTTPException(403, gettext("Only the person who wrote a post can change it."))
    return post, author, thread


async def edit_page(request: Request) -> Response:
    """/p/{id}/edit: change your own post's words, title and content warning."""
    me = await viewer_of(request)
    if request.method == "GET":
        if me is None:
            return redirect(request, auth.login_url(request))
        return await _edit_form(request, me)
    form, me, problem = await checked_form(request)
    values = text_fields(form)
    if problem:
        return await _edit_form(request, me, values=values, notice=problem, status_code=403)
    settings = request.app.state.settings
    try:
        async with db.transaction(request.app.state.sessions) as session:
            post, actor, _ = await _own_post(request, session, me)
            await actions.edit(session, settings, actor, post, body=values["body"],
                               title=(values["title"] or None) if post.is_thread else None,
                               content_warning=values["content_warning"] or None)
    except DomainError as exc:
        return await _edit_form(request, me, values=values, errors={error_field(str(exc)): str(exc)},
                                status_code=400)
    return redirect(request, in_thread(post))


async def _edit_form(request: Request, me: auth.CurrentUser | None, *, values: dict | None = None,
                     errors: dict | None = None, notice: str | None = None, status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        if me is None:
            post, author, thread = await shown_post(session, post_id_of(request))
        else:
            post, author, thread = await _own_post(request, session, me)
        community, _ = await community_of(session, thread)
        site = await accounts.get_site(session)
    if values is None:
        values = {"title": post.title or "", "body": post.source or "", "content_warning": post.content_warning or ""}
    return page(request, "edit_post.html", status_code=status_code, site=site, viewer=me, post=post, thread=thread,
                community=community, values=values, errors=errors or {}, notice=notice)


async def delete_page(request: Request) -> Response:
    """/p/{id}/delete: asks first; the POST deletes the post here and asks other servers to."""
    me = await viewer_of(request)
    if request.method == "GET":
        if me is None:
            return redirect(request, auth.login_url(request))
        async with request.app.state.sessions() as session:
            post, author, thread = await _own_post(request, session, me)
            community, _ = await community_of(session, thread)
            site = await accounts.get_site(session)
        return page(request, "delete_post.html", site=site, viewer=me, item=Item(post, author), thread=thread,
                    community=community)
    form, me, problem = await checked_form(request)
    if problem:
        raise HTTPException(403, problem if me is not None else gettext("Please log in to delete your post."))
    settings = request.app.state.settings
    async with db.transaction(request.app.state.sessions) as session:
        post, actor, thread = await _own_post(request, session, me)
        community, _ = await community_of(session, thread)
        try:
            await actions.delete(session, settings, actor, post)
        except DomainError as exc:
            raise HTTPException(400, str(exc)) from None
    if post.is_thread:
        return redirect(request, f"/c/{community.name}?deleted=1" if community and community.local else "/")
    # Back to where the reply was in its thread (its replies, if any, stay there).
    return redirect(request, f"/p/{post.thread_id}?after={encode_cursor(post.published_at, post.id - 1)}")


# --- "I hear you" ---------------------------------------------------------------------------


async def _like_or_unlike(request: Request, undo: bool) -> Response:
    form, me, problem = await checked_form(request)
    if problem:
        if me is None:
            return redirect(request, login_url(text_field(form, "next", 2000) or f"/p/{post_id_of(request)}"))
        raise HTTPException(403, auth.CSRF_FAILED)
    settings = request.app.state.settings
    async with db.transaction(request.app.state.sessions) as session:
        post = await session.get(Post, post_id_of(request))
        if post is None:
            raise HTTPException(404, NOT_FOUND)
        actor = await session.get(Actor, me.actor.id)
        try:
            if undo:
                await actions.unlike(session, settings, actor, post)
            else:
                author = await session.get(Actor, post.author_id)
                if not is_visible(post, author) or not await may_read(session, actor, post):
                    raise DomainError(gettext("That post is no longer here."))
                if await pseudonyms.is_theirs(session, actor, author.id):
                    # Their own name on their pseudonym's post would pair the two in public.
                    raise DomainError(gettext("That's your own post, written under your pseudonym."))
                await actions.like(session, settings, actor, post)
        except DomainError as exc:
            raise HTTPException(409, str(exc)) from None
        back = in_thread(post)
    target = auth.safe_next(text_field(form, "next", 2000), back.split("#")[0]).split("#")[0]
    return redirect(request, f"{target}#p-{post.id}")


async def like(request: Request) -> Response:
    return await _like_or_unlike(request, undo=False)


async def unlike(request: Request) -> Response:
    return await _like_or_unlike(request, undo=True)


# --- joining a community --------------------------------------------------------------------


async def _join_or_leave(request: Request, leave: bool) -> Response:
    name = request.path_params["name"].lower()
    form, me, problem = await checked_form(request)
    if problem:
        if me is None:
            return redirect(request, login_url(f"/c/{name}"))
        raise HTTPException(403, auth.CSRF_FAILED)
    settings = request.app.state.settings
    async with db.transaction(request.app.state.sessions) as session:
        community, community_actor = await community_and_actor(session, name)
        actor = await session.get(Actor, me.actor.id)
        try:
            if leave:
                await following.unfollow(session, settings, actor, community_actor)
            else:
                await following.follow(session, settings, actor, community_actor)
        except DomainError as exc:
            raise HTTPException(400, str(exc)) from None
    return redirect(request, f"/c/{community.name}?{'left' if leave else 'joined'}=1")


async def join(request: Request) -> Response:
    return await _join_or_leave(request, leave=False)


async def leave(request: Request) -> Response:
    return await _join_or_leave(request, leave=True)


def routes() -> list[Route]:
    return [
        Route("/p/{post_id}/like", like, methods=["POST"], name="post_like"),
        Route("/p/{post_id}/unlike", unlike, methods=["POST"], name="post_unlike"),
        Route("/p/{post_id}/edit", edit_page, methods=["GET", "POST"], name="post_edit"),
        Route("/p/{post_id}/delete", delete_page, methods=["GET", "POST"], name="post_delete"),
        Route("/c/{name}/join", join, methods=["POST"], name="community_join"),
        Route("/c/{name}/leave", leave, methods=["POST"], name="community_leave"),
    ]
