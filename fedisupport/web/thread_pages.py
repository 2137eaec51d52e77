"""Threads as people read them and write in them: the opening post, its replies, one reply in its
context, the reply form and a new thread's form.

How a thread is read (visibility, keyset pages, the reply tree) is in web/thread_view.py; what
people do to posts and communities (edit, delete, "I hear you", join, leave) in web/post_actions.py.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import db
from ..inbox.backfill_queue import request_backfill
from ..domain import accounts, actions, moderation, pseudonyms, small_groups
from ..domain.errors import DomainError
from ..domain.posting import MAX_BODY, MAX_CW, MAX_TITLE
from ..models import Actor, Community, Post
from ..models.content import DELETED, PUBLISHED, REMOVED
from . import auth, translation_pages
from .forms import text_field
from .care import crisis_resources
from .pages import render
from .paging import encode_cursor
from .thread_view import (NOT_FOUND, THREAD_VISIBILITY, TREE_MAX_REPLIES, TREE_MAX_ROWS, Item, Pager, build_tree,
                          community_of, flatten, is_visible, keyset_page, load_post, mark_likes, may_read, page_args,
                          pager_for, parent_refs, placeholder_of, post_id_of, shown, viewer_of, with_authors)
from ..i18n import gettext, lazy_gettext

# --- responses ------------------------------------------------------------------------------


def in_thread(post: Post) -> str:
    """A link that opens the thread at this reply: the page that starts with it, or the whole tree."""
    if post.is_thread or post.thread_id is None or post.thread_id == post.id:
        return f"/p/{post.id}"
    return f"/p/{post.thread_id}?after={encode_cursor(post.published_at, post.id - 1)}#p-{post.id}"


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(auth.safe_next(next_path), safe="/")


def _here(request: Request) -> str:
    """This page's path and query, for forms that bring the person back where they were."""
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


def page(request: Request, template: str, status_code: int = 200, **context) -> Response:
    """A page with what the post templates use beside their own data, and auth's cookie changes."""
    context.setdefault("here", _here(request))
    response = render(request, template, status_code=status_code, in_thread=in_thread, login_url=login_url,
                      MAX_BODY=MAX_BODY, MAX_CW=MAX_CW, MAX_TITLE=MAX_TITLE, **context)
    if context.get("viewer") is not None:
        # Made for one person (their pseudonym's name, edit links on its posts): never for a shared cache.
        response.headers.setdefault("Cache-Control", "private, no-store")
    return auth.apply_cookies(request, response)


def redirect(request: Request, url: str) -> Response:
    # 303: the browser follows with a GET, so a reload never posts twice.
    return auth.apply_cookies(request, RedirectResponse(url, status_code=303))


def text_fields(form) -> dict[str, str]:
    """What someone wrote. The body is never cut (the form parser caps it): if it is too long,
    the domain says so and every word comes back to its writer."""
    return {
        "title": text_field(form, "title", MAX_TITLE * 2).strip(),
        "body": text_field(form, "body", auth.MAX_FORM_FIELD_BYTES),
        "content_warning": text_field(form, "content_warning", MAX_CW * 2).strip(),
        "language": text_field(form, "language", 16).strip(),
        "pseudonym": form.get("pseudonym") == "on",
        "pseudonym_name": text_field(form, "pseudonym_name", pseudonyms.MAX_DISPLAY_NAME * 4).strip(),
    }


def error_field(message: str) -> str:
    """Which field a domain message is about, so it shows next to that field."""
    lowered = message.lower()
    if "title" in lowered:
        return "title"
    if "content warning" in lowered:
        return "content_warning"
    if "pseudonym" in lowered:
        return "pseudonym"
    if "language" in lowered:
        return "language"
    return "body"


LOGGED_OUT = lazy_gettext("You're not logged in at the moment, so this wasn't posted. Your words are still here: "
              "copy them somewhere safe, log in, and post them again.")
FORM_EXPIRED = lazy_gettext("For your safety we didn't post that: the page had been open a long time or came from "
                "another site. Your words are still here. Please press the button again.")


async def checked_form(request: Request) -> tuple[Any, auth.CurrentUser | None, str | None]:
    """The form, who sent it, and the problem with it if it can't be acted on.

    A form that fails the CSRF check changes nothing, but what the person wrote comes back to
    them in the 403 page rather than being lost.
    """
    me = await viewer_of(request)
    try:
        form = await auth.csrf_protect(request)
    except HTTPException as exc:
        if exc.status_code != 403:
            raise
        return await request.form(), me, LOGGED_OUT if me is None else FORM_EXPIRED
    if me is None:
        return form, None, LOGGED_OUT
    return form, me, None


# --- reading --------------------------------------------------------------------------------


async def post_page(request: Request) -> Response:
    """/p/{id} as HTML: a thread with its replies, or one reply in its thread."""
    post_id = post_id_of(request)
    settings = request.app.state.settings
    me = await viewer_of(request)
    async with request.app.state.sessions() as session:
        found = await load_post(session, post_id)
        if found is None:
            raise HTTPException(404, NOT_FOUND)
        post, author = found
        if post.state not in (PUBLISHED, DELETED, REMOVED) or post.visibility not in THREAD_VISIBILITY:
            raise HTTPException(404, NOT_FOUND)
        if not await may_read(session, me.actor if me else None, post):
            raise HTTPException(404, NOT_FOUND)  # as if it did not exist: a 403 would say it does
        placeholder = placeholder_of(post, author)
        if placeholder and post.reply_count <= 0 and not (post.is_thread and post.thread_reply_count > 0):
            raise HTTPException(404, gettext("This post was deleted.") if placeholder == "deleted" else NOT_FOUND)
        site = await accounts.get_site(session)
        viewer = me.actor if me else None
        if post.is_thread or post.thread_id in (None, post.id):
            context = await _thread_context(request, session, settings, post, author, viewer)
            # The opening post in the reader's language when a volunteer translated it.
            context.update(await translation_pages.thread_view(request, session, post, viewer))
            template = "thread.html"
            if not post.local:
                # Someone is reading a remote thread: ask the worker to fetch replies we may lack.
                # (A durable row with a cooldown; the page never waits for the other server.)
                await request_backfill(session, post)
                await session.commit()
        else:
            context = await _reply_context(request, session, settings, post, author, viewer)
            template = "reply.html"
        care = await crisis_resources(request, session)  # the one-line crisis box
        context["pseudonym"] = await pseudonyms.choice_for(session, viewer, context["community"])
        context.update(translation_pages.writing_languages(request, context["community"]))
        moderating = await moderation.may_moderate(session, viewer, context.get("community"))
        context["may_start_group"] = await small_groups.may_start_from(session, viewer, context["thread"])
    return page(request, template, site=site, viewer=me, care=care, moderating=moderating, **context)


async def _thread_context(request: Request, session: AsyncSession, settings, thread: Post, author: Actor,
                          viewer: Actor | None) -> dict[str, Any]:
    opening = Item(thread, author, placeholder=placeholder_of(thread, author))
    community, community_actor = await community_of(session, thread)
    condition = and_(Post.thread_id == thread.id, Post.id != thread.id)
    tree = None
    pager = Pager()
    if thread.thread_reply_count <= TREE_MAX_REPLIES:
        rows = list((await session.execute(
            with_authors().where(condition, shown()).order_by(Post.published_at, Post.id).limit(TREE_MAX_ROWS + 1)
        )).all())
        if len(rows) <= TREE_MAX_ROWS:
            items = [Item(p, a, placeholder=placeholder_of(p, a)) for p, a in rows]
            tree = build_tree(items, thread.id)
            replies = flatten(tree)
    if tree is None:
        rows, more_earlier, more_newer = await keyset_page(session, condition, settings.page_size,
                                                           **page_args(request))
        replies = [Item(p, a, placeholder=placeholder_of(p, a)) for p, a in rows]
        pager = pager_for(f"/p/{thread.id}", rows, more_earlier, more_newer)
    await parent_refs(session, replies, thread.id, {i.id: i for i in replies})
    await mark_likes(session, [opening, *replies], viewer)
    return {
        "thread": thread, "opening": opening, "community": community, "community_actor": community_actor,
        "replies": tree if tree is not None else replies, "tree": tree is not None, "pager": pager,
    }


async def _reply_context(request: Request, session: AsyncSession, settings, reply: Post, author: Actor,
                         viewer: Actor | None) -> dict[str, Any]:
    """One reply: a link to its thread, what it answers, the reply, then its direct replies."""
    found = await load_post(session, reply.thread_id)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    thread, thread_author = found
    community, community_actor = await community_of(session, thread)
    item = Item(reply, author, placeholder=placeholder_of(reply, author))
    await parent_refs(session, [item], thread.id, {})
    rows, more_earlier, more_newer = await keyset_page(session, Post.parent_id == reply.id, settings.page_size,
                                                       **page_args(request))
    replies = [Item(p, a, placeholder=placeholder_of(p, a)) for p, a in rows]
    await mark_likes(session, [item, *replies], viewer)
    return {
        "thread": thread, "community": community, "community_actor": community_actor, "item": item,
        "replies": replies, "pager": pager_for(f"/p/{reply.id}", rows, more_earlier, more_newer),
    }


async def shown_post(session: AsyncSession, post_id: int, viewer: Actor | None = None) -> tuple[Post, Actor, Post]:
    """A published post this viewer may see, with its author and thread; 404 otherwise."""
    found = await load_post(session, post_id)
    if found is None or not is_visible(*found) or not await may_read(session, viewer, found[0]):
        raise HTTPException(404, NOT_FOUND)
    post, author = found
    thread = post if post.is_thread or post.thread_id in (None, post.id) else await session.get(Post, post.thread_id)
    if thread is None:
        raise HTTPException(404, NOT_FOUND)
    return post, author, thread


# --- replying -------------------------------------------------------------------------------


async def reply_page(request: Request) -> Response:
    """/p/{id}/reply: the post being answered, and the form. POST writes the reply."""
    if request.method == "POST":
        return await _post_reply(request)
    me = await viewer_of(request)
    return await _reply_form(request, me, post_id_of(request))


async def _reply_form(request: Request, me: auth.CurrentUser | None, post_id: int, *, values: dict | None = None,
                      errors: dict | None = None, notice: str | None = None, status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        target, author, thread = await shown_post(session, post_id, me.actor if me else None)
        community, _ = await community_of(session, thread)
        site = await accounts.get_site(session)
        item = Item(target, author)
        await parent_refs(session, [item], thread.id, {})
        await mark_likes(session, [item], me.actor if me else None)
        pseudonym = await pseudonyms.choice_for(session, me.actor if me else None, community)
    return page(request, "write_reply.html", status_code=status_code, site=site, viewer=me, item=item, thread=thread,
                community=community, values=values or {}, errors=errors or {}, notice=notice,
                here=f"/p/{post_id}/reply", pseudonym=pseudonym,
                **translation_pages.writing_languages(request, community))


async def _post_reply(request: Request) -> Response:
    post_id = post_id_of(request)
    form, me, problem = await checked_form(request)
    values = text_fields(form)
    if problem:
        return await _reply_form(request, me, post_id, values=values, notice=problem, status_code=403)
    settings = request.app.state.settings
    keys = (await pseudonyms.keys_if_new(request.app.state.sessions, me.actor, post_id=post_id)
            if values["pseudonym"] else None)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            found = await load_post(session, post_id)
            if found is None or not (is_visible(*found) or placeholder_of(*found)) \
                    or not await may_read(session, me.actor, found[0]):
                raise HTTPException(404, NOT_FOUND)
            parent = found[0]
            language = translation_pages.chosen_language(values["language"], (await community_of(session, parent))[0])
            author = await session.get(Actor, me.actor.id)
            if values["pseudonym"]:
                author = await pseudonyms.writer_for_reply(session, settings, author, parent, keys=keys,
                                                           display_name=values["pseudonym_name"])
            reply = await actions.write_reply(session, settings, author, parent, body=values["body"], language=language,
                                              content_warning=values["content_warning"] or None)
    except DomainError as exc:
        return await _reply_form(request, me, post_id, values=values,
                                 errors={error_field(str(exc)): str(exc)}, status_code=400)
    # care: thank them and offer the crisis services first; a held post also says it is waiting.
    if getattr(reply, "crisis_signal", None) or reply.state == "held":
        return redirect(request, f"/p/{reply.id}/support")
    return redirect(request, in_thread(reply))


# --- starting a thread ----------------------------------------------------------------------

async def community_and_actor(session: AsyncSession, name: str) -> tuple[Community, Actor]:
    community = await accounts.community_by_name(session, name)
    actor = await session.get(Actor, community.actor_id) if community is not None else None
    if community is None or actor is None or actor.deleted_at is not None:
        raise HTTPException(404, gettext("We couldn't find that community."))
    return community, actor


async def new_thread(request: Request) -> Response:
    """/c/{name}/new: start a thread. Logged-out visitors are asked to log in first."""
    me = await viewer_of(request)
    if request.method == "GET":
        if me is None:
            return redirect(request, auth.login_url(request))
        return await _new_thread_form(request, me)
    form, me, problem = await checked_form(request)
    values = text_fields(form)
    if problem:
        return await _new_thread_form(request, me, values=values, notice=problem, status_code=403)
    settings = request.app.state.settings
    keys = await pseudonyms.keys_if_new(request.app.state.sessions, me.actor,
                                        community_name=request.path_params["name"]) if values["pseudonym"] else None
    try:
        async with db.transaction(request.app.state.sessions) as session:
            community, _ = await community_and_actor(session, request.path_params["name"])
            language = translation_pages.chosen_language(values["language"], community)
            if language is None:
                raise DomainError(gettext("Please choose a language from the list."))
            author = await session.get(Actor, me.actor.id)
            if values["pseudonym"]:
                author = await pseudonyms.writer_for(session, settings, author, community, keys=keys,
                                                     display_name=values["pseudonym_name"])
            thread = await actions.write_thread(session, settings, author, community, title=values["title"] or None,
                                                body=values["body"], language=language,
                                                content_warning=values["content_warning"] or None)
    except DomainError as exc:
        return await _new_thread_form(request, me, values=values, errors={error_field(str(exc)): str(exc)},
                                      status_code=400)
    if getattr(thread, "crisis_signal", None) or thread.state == "held":
        return redirect(request, f"/p/{thread.id}/support")
    return redirect(request, f"/p/{thread.id}")


async def _new_thread_form(request: Request, me: auth.CurrentUser | None, *, values: dict | None = None,
                           errors: dict | None = None, notice: str | None = None, status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        community, _ = await community_and_actor(session, request.path_params["name"])
        site = await accounts.get_site(session)
        pseudonym = await pseudonyms.choice_for(session, me.actor if me else None, community)
    values = dict(values or {})
    return page(request, "new_thread.html", status_code=status_code, site=site, viewer=me, community=community,
                values=values, errors=errors or {}, notice=notice, pseudonym=pseudonym,
                **translation_pages.writing_languages(request, community))


def routes() -> list[Route]:
    """Reading, replying, starting threads; `/p/{post_id}` itself is routed by post_routes (JSON or HTML)."""
    return [
        Route("/p/{post_id}/reply", reply_page, methods=["GET", "POST"], name="post_reply"),
        Route("/c/{name}/new", new_thread, methods=["GET", "POST"], name="new_thread"),
    ]
