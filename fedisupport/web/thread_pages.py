"""Threads as people read them: the opening post, its replies, and one reply in its context.

Every list here is paged by keyset on (published_at, id) through the indexes the `posts` table
has for it, so the thousandth page of a 500,000-reply thread costs what the first one does.
No page runs COUNT: the numbers shown come from the count columns on `posts`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence
from urllib.parse import quote

from sqlalchemy import Select, and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import db
from ..inbox.backfill_queue import request_backfill
from ..domain import accounts, actions, following, moderation, pseudonyms, small_groups
from ..domain.errors import DomainError
from ..domain.posting import MAX_BODY, MAX_CW, MAX_TITLE
from ..models import Actor, Community, Like, Post
from ..models.content import DELETED, MEMBERS, PUBLIC, PUBLISHED, REMOVED, UNLISTED
from ..models.social import ACCEPTED
from . import auth, translation_pages
from .care import crisis_resources
from .pages import render
from .paging import decode_cursor, encode_cursor
from ..i18n import gettext, lazy_gettext

# Unlisted posts are public to anyone holding the link (Mastodon's replies arrive unlisted).
SHOWN_VISIBILITY = (PUBLIC, UNLISTED)
# Inside one thread every post has the thread's visibility, so a members-only thread is shown
# whole once `may_read` let the viewer in at its door (every route that takes a post id asks).
THREAD_VISIBILITY = (PUBLIC, UNLISTED, MEMBERS)
# Threads with at most this many replies are shown as a nested conversation on one page.
TREE_MAX_REPLIES = 50
# Rows read for a tree (deleted replies under others count too); past it the thread is paged.
TREE_MAX_ROWS = 200
# Deeper answers line up under the last indented level, so small screens stay readable.
TREE_MAX_DEPTH = 4
# `?before=latest` opens the newest page of a long thread.
LATEST = "latest"

NOT_FOUND = lazy_gettext("We couldn't find that post. It may have been removed.")


@dataclasses.dataclass
class ParentRef:
    """What a reply answers, when that is another reply rather than the opening post."""

    label: str | None  # "@ada" (None when the reply it answers is gone or not shown)
    href: str | None
    gone: bool = False


@dataclasses.dataclass
class Item:
    """One post as a page shows it."""

    post: Post
    author: Actor
    placeholder: str | None = None  # "deleted" or "removed": a quiet line instead of the text
    parent: ParentRef | None = None
    liked: bool = False
    mine: bool = False
    pseudonymous: bool = False  # the viewer wrote it under their pseudonym (only they are told)
    children: list["Item"] = dataclasses.field(default_factory=list)

    @property
    def id(self) -> int:
        return self.post.id


@dataclasses.dataclass
class Pager:
    earlier: str | None = None  # e.g. "/p/1?before=…"
    newer: str | None = None
    latest: str | None = None


# --- what may be shown --------------------------------------------------------------------


def _shown():
    """Rows a thread shows: published posts, and gone ones only while replies hang under them."""
    visible = and_(Post.state == PUBLISHED, Post.visibility.in_(THREAD_VISIBILITY), Actor.suspended.is_(False))
    placeholder = and_(Post.reply_count > 0, or_(Post.state.in_((DELETED, REMOVED)),
                                                  and_(Post.state == PUBLISHED, Actor.suspended.is_(True))))
    return or_(visible, placeholder)


def placeholder_of(post: Post, author: Actor) -> str | None:
    if post.state == DELETED:
        return "deleted"
    if post.state == REMOVED or author.suspended:
        return "removed"
    return None


def is_visible(post: Post, author: Actor) -> bool:
    """Shown in its thread; a members-only post only after `may_read` said yes to this viewer."""
    return post.state == PUBLISHED and post.visibility in THREAD_VISIBILITY and not author.suspended


async def may_read(session: AsyncSession, viewer: Actor | None, post: Post) -> bool:
    """The door to every page about a post: members-only posts are for the group's members."""
    return await small_groups.may_read_post(session, viewer, post)


def _with_authors() -> Select:
    return select(Post, Actor).join(Actor, Actor.id == Post.author_id)


def mention(actor: Actor) -> str:
    return f"@{actor.username}" if actor.local else f"@{actor.username}@{actor.domain}"


# --- loading --------------------------------------------------------------------------------


def post_id_of(request: Request) -> int:
    try:
        value = int(request.path_params["post_id"])
    except (KeyError, ValueError):
        raise HTTPException(404, NOT_FOUND) from None
    if not 0 < value < 1 << 63:
        raise HTTPException(404, NOT_FOUND)
    return value


async def load_post(session: AsyncSession, post_id: int) -> tuple[Post, Actor] | None:
    row = (await session.execute(_with_authors().where(Post.id == post_id))).first()
    return (row[0], row[1]) if row else None


async def keyset_page(
    session: AsyncSession, condition: Any, size: int, *, after: tuple | None = None, before: tuple | None = None,
    latest: bool = False,
) -> tuple[list[tuple[Post, Actor]], bool, bool]:
    """One page of shown posts matching `condition` in reading order.

    Returns (rows, more_earlier, more_newer). Each direction is one index range scan; the other
    side is checked with a single-row probe, never counted.
    """
    key = tuple_(Post.published_at, Post.id)
    query = _with_authors().where(condition, _shown())
    if before is not None or latest:
        if before is not None:
            query = query.where(key < before)
        rows = list((await session.execute(query.order_by(Post.published_at.desc(), Post.id.desc())
                                           .limit(size + 1))).all())
        more_earlier = len(rows) > size
        rows = rows[:size][::-1]
        more_newer = before is not None and await _exists(session, condition, key >= before)
        return [(r[0], r[1]) for r in rows], more_earlier, more_newer
    if after is not None:
        query = query.where(key > after)
    rows = list((await session.execute(query.order_by(Post.published_at, Post.id).limit(size + 1))).all())
    more_newer = len(rows) > size
    rows = rows[:size]
    more_earlier = after is not None and await _exists(session, condition, key <= after)
    return [(r[0], r[1]) for r in rows], more_earlier, more_newer


async def _exists(session: AsyncSession, condition: Any, bound: Any) -> bool:
    probe = _with_authors().with_only_columns(Post.id).where(condition, _shown(), bound).limit(1)
    return (await session.scalar(probe)) is not None


def pager_for(base: str, rows: Sequence[tuple[Post, Actor]], more_earlier: bool, more_newer: bool) -> Pager:
    pager = Pager()
    if rows and more_earlier:
        pager.earlier = f"{base}?before={encode_cursor(rows[0][0].published_at, rows[0][0].id)}"
    if rows and more_newer:
        pager.newer = f"{base}?after={encode_cursor(rows[-1][0].published_at, rows[-1][0].id)}"
        pager.latest = f"{base}?before={LATEST}"
    return pager


def page_args(request: Request) -> dict[str, Any]:
    before = request.query_params.get("before")
    if before == LATEST:
        return {"latest": True}
    cursor = decode_cursor(before)
    if cursor is not None:
        return {"before": cursor}
    cursor = decode_cursor(request.query_params.get("after"))
    return {"after": cursor} if cursor is not None else {}


async def _parent_refs(session: AsyncSession, items: list[Item], thread_id: int, on_page: dict[int, Item]) -> None:
    """Fill in "replying to @name" for replies that answer another reply (one query at most)."""
    missing = {i.post.parent_id for i in items
               if i.post.parent_id not in (None, thread_id) and i.post.parent_id not in on_page}
    found: dict[int, tuple[Post, Actor]] = {}
    if missing:
        rows = await session.execute(_with_authors().where(Post.id.in_(missing)))
        found = {p.id: (p, a) for p, a in rows.all()}
    for item in items:
        parent_id = item.post.parent_id
        if parent_id in (None, thread_id):
            continue
        if parent_id in on_page:
            parent = on_page[parent_id]
            if parent.placeholder:
                item.parent = ParentRef(None, f"#p-{parent_id}", gone=True)
            else:
                item.parent = ParentRef(mention(parent.author), f"#p-{parent_id}")
            continue
        post, author = found.get(parent_id, (None, None))
        if post is not None and is_visible(post, author):
            item.parent = ParentRef(mention(author), f"/p/{parent_id}")
        elif post is not None and placeholder_of(post, author) and post.reply_count > 0:
            item.parent = ParentRef(None, f"/p/{parent_id}", gone=True)
        else:
            item.parent = ParentRef(None, None, gone=True)


async def _mark_likes(session: AsyncSession, items: list[Item], viewer: Actor | None) -> None:
    if viewer is None or not items:
        return
    ids = [i.id for i in items]
    liked = set(await session.scalars(select(Like.post_id).where(Like.actor_id == viewer.id, Like.post_id.in_(ids))))
    worn = await pseudonyms.actor_ids_of(session, viewer)  # their own pseudonyms: theirs to edit, never to like
    for item in items:
        item.liked = item.id in liked
        item.pseudonymous = item.post.author_id in worn and item.post.local
        item.mine = (item.post.author_id == viewer.id and item.post.local) or item.pseudonymous


def build_tree(items: list[Item], thread_id: int) -> list[Item]:
    """Nest replies under what they answer, oldest first at every level.

    Replies whose parent is not shown (held for review, members only) join the top level, and
    placeholders left with nothing under them are dropped. Past TREE_MAX_DEPTH, a conversation
    continues as a flat run under its last indented reply.
    """
    by_id = {i.id: i for i in items}
    top: list[Item] = []
    for item in items:  # already in reading order
        parent = by_id.get(item.post.parent_id) if item.post.parent_id != thread_id else None
        (parent.children if parent is not None else top).append(item)

    def prune(nodes: list[Item]) -> list[Item]:
        kept = []
        for node in nodes:
            node.children = prune(node.children)
            if node.placeholder is None or node.children:
                kept.append(node)
        return kept

    def descendants(node: Item) -> list[Item]:
        out = []
        for child in node.children:
            out.append(child)
            out.extend(descendants(child))
        return out

    def cap(nodes: list[Item], level: int) -> list[Item]:
        out = []
        for node in nodes:
            out.append(node)
            if level >= TREE_MAX_DEPTH:
                run = sorted(descendants(node), key=lambda i: (i.post.published_at, i.id))
                node.children = []
                for item in run:
                    item.children = []
                out.extend(run)
            else:
                node.children = cap(node.children, level + 1)
        return out

    return cap(prune(top), 1)


def _flatten(nodes: list[Item]) -> list[Item]:
    out = []
    for node in nodes:
        out.append(node)
        out.extend(_flatten(node.children))
    return out


async def _community_of(session: AsyncSession, post: Post) -> tuple[Community | None, Actor | None]:
    if post.community_id is None:
        return None, None
    row = (await session.execute(select(Community, Actor).join(Actor, Actor.id == Community.actor_id)
                                 .where(Community.actor_id == post.community_id))).first()
    return (row[0], row[1]) if row else (None, await session.get(Actor, post.community_id))


async def viewer_of(request: Request) -> auth.CurrentUser | None:
    """The signed-in person, or None (looked up once per request by auth)."""
    return await auth.current_user(request)


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


def _field(form, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _text_fields(form) -> dict[str, str]:
    """What someone wrote. The body is never cut (the form parser caps it): if it is too long,
    the domain says so and every word comes back to its writer."""
    return {
        "title": _field(form, "title", MAX_TITLE * 2).strip(),
        "body": _field(form, "body", auth.MAX_FORM_FIELD_BYTES),
        "content_warning": _field(form, "content_warning", MAX_CW * 2).strip(),
        "language": _field(form, "language", 16).strip(),
        "pseudonym": form.get("pseudonym") == "on",
        "pseudonym_name": _field(form, "pseudonym_name", pseudonyms.MAX_DISPLAY_NAME * 4).strip(),
    }


def _error_field(message: str) -> str:
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


async def _checked_form(request: Request) -> tuple[Any, auth.CurrentUser | None, str | None]:
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
    community, community_actor = await _community_of(session, thread)
    condition = and_(Post.thread_id == thread.id, Post.id != thread.id)
    tree = None
    pager = Pager()
    if thread.thread_reply_count <= TREE_MAX_REPLIES:
        rows = list((await session.execute(
            _with_authors().where(condition, _shown()).order_by(Post.published_at, Post.id).limit(TREE_MAX_ROWS + 1)
        )).all())
        if len(rows) <= TREE_MAX_ROWS:
            items = [Item(p, a, placeholder=placeholder_of(p, a)) for p, a in rows]
            tree = build_tree(items, thread.id)
            replies = _flatten(tree)
    if tree is None:
        rows, more_earlier, more_newer = await keyset_page(session, condition, settings.page_size,
                                                           **page_args(request))
        replies = [Item(p, a, placeholder=placeholder_of(p, a)) for p, a in rows]
        pager = pager_for(f"/p/{thread.id}", rows, more_earlier, more_newer)
    await _parent_refs(session, replies, thread.id, {i.id: i for i in replies})
    await _mark_likes(session, [opening, *replies], viewer)
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
    community, community_actor = await _community_of(session, thread)
    item = Item(reply, author, placeholder=placeholder_of(reply, author))
    await _parent_refs(session, [item], thread.id, {})
    rows, more_earlier, more_newer = await keyset_page(session, Post.parent_id == reply.id, settings.page_size,
                                                       **page_args(request))
    replies = [Item(p, a, placeholder=placeholder_of(p, a)) for p, a in rows]
    await _mark_likes(session, [item, *replies], viewer)
    return {
        "thread": thread, "community": community, "community_actor": community_actor, "item": item,
        "replies": replies, "pager": pager_for(f"/p/{reply.id}", rows, more_earlier, more_newer),
    }


async def _shown_post(session: AsyncSession, post_id: int, viewer: Actor | None = None) -> tuple[Post, Actor, Post]:
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
        target, author, thread = await _shown_post(session, post_id, me.actor if me else None)
        community, _ = await _community_of(session, thread)
        site = await accounts.get_site(session)
        item = Item(target, author)
        await _parent_refs(session, [item], thread.id, {})
        await _mark_likes(session, [item], me.actor if me else None)
        pseudonym = await pseudonyms.choice_for(session, me.actor if me else None, community)
    return page(request, "write_reply.html", status_code=status_code, site=site, viewer=me, item=item, thread=thread,
                community=community, values=values or {}, errors=errors or {}, notice=notice,
                here=f"/p/{post_id}/reply", pseudonym=pseudonym,
                **translation_pages.writing_languages(request, community))


async def _post_reply(request: Request) -> Response:
    post_id = post_id_of(request)
    form, me, problem = await _checked_form(request)
    values = _text_fields(form)
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
            language = translation_pages.chosen_language(values["language"], (await _community_of(session, parent))[0])
            author = await session.get(Actor, me.actor.id)
            if values["pseudonym"]:
                author = await pseudonyms.writer_for_reply(session, settings, author, parent, keys=keys,
                                                           display_name=values["pseudonym_name"])
            reply = await actions.write_reply(session, settings, author, parent, body=values["body"], language=language,
                                              content_warning=values["content_warning"] or None)
    except DomainError as exc:
        return await _reply_form(request, me, post_id, values=values,
                                 errors={_error_field(str(exc)): str(exc)}, status_code=400)
    # care: thank them and offer the crisis services first; a held post also says it is waiting.
    if getattr(reply, "crisis_signal", None) or reply.state == "held":
        return redirect(request, f"/p/{reply.id}/support")
    return redirect(request, in_thread(reply))


# --- starting a thread ----------------------------------------------------------------------

async def _community_and_actor(session: AsyncSession, name: str) -> tuple[Community, Actor]:
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
    form, me, problem = await _checked_form(request)
    values = _text_fields(form)
    if problem:
        return await _new_thread_form(request, me, values=values, notice=problem, status_code=403)
    settings = request.app.state.settings
    keys = await pseudonyms.keys_if_new(request.app.state.sessions, me.actor,
                                        community_name=request.path_params["name"]) if values["pseudonym"] else None
    try:
        async with db.transaction(request.app.state.sessions) as session:
            community, _ = await _community_and_actor(session, request.path_params["name"])
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
        return await _new_thread_form(request, me, values=values, errors={_error_field(str(exc)): str(exc)},
                                      status_code=400)
    if getattr(thread, "crisis_signal", None) or thread.state == "held":
        return redirect(request, f"/p/{thread.id}/support")
    return redirect(request, f"/p/{thread.id}")


async def _new_thread_form(request: Request, me: auth.CurrentUser | None, *, values: dict | None = None,
                           errors: dict | None = None, notice: str | None = None, status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        community, _ = await _community_and_actor(session, request.path_params["name"])
        site = await accounts.get_site(session)
        pseudonym = await pseudonyms.choice_for(session, me.actor if me else None, community)
    values = dict(values or {})
    return page(request, "new_thread.html", status_code=status_code, site=site, viewer=me, community=community,
                values=values, errors=errors or {}, notice=notice, pseudonym=pseudonym,
                **translation_pages.writing_languages(request, community))


# --- editing and deleting -------------------------------------------------------------------


async def _own_post(request: Request, session: AsyncSession, me: auth.CurrentUser) -> tuple[Post, Actor, Post]:
    post, author, thread = await _shown_post(session, post_id_of(request), me.actor)
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
    form, me, problem = await _checked_form(request)
    values = _text_fields(form)
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
        return await _edit_form(request, me, values=values, errors={_error_field(str(exc)): str(exc)},
                                status_code=400)
    return redirect(request, in_thread(post))


async def _edit_form(request: Request, me: auth.CurrentUser | None, *, values: dict | None = None,
                     errors: dict | None = None, notice: str | None = None, status_code: int = 200) -> Response:
    async with request.app.state.sessions() as session:
        if me is None:
            post, author, thread = await _shown_post(session, post_id_of(request))
        else:
            post, author, thread = await _own_post(request, session, me)
        community, _ = await _community_of(session, thread)
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
            community, _ = await _community_of(session, thread)
            site = await accounts.get_site(session)
        return page(request, "delete_post.html", site=site, viewer=me, item=Item(post, author), thread=thread,
                    community=community)
    form, me, problem = await _checked_form(request)
    if problem:
        raise HTTPException(403, problem if me is not None else gettext("Please log in to delete your post."))
    settings = request.app.state.settings
    async with db.transaction(request.app.state.sessions) as session:
        post, actor, thread = await _own_post(request, session, me)
        community, _ = await _community_of(session, thread)
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
    form, me, problem = await _checked_form(request)
    if problem:
        if me is None:
            return redirect(request, login_url(_field(form, "next", 2000) or f"/p/{post_id_of(request)}"))
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
    target = auth.safe_next(_field(form, "next", 2000), back.split("#")[0]).split("#")[0]
    return redirect(request, f"{target}#p-{post.id}")


async def like(request: Request) -> Response:
    return await _like_or_unlike(request, undo=False)


async def unlike(request: Request) -> Response:
    return await _like_or_unlike(request, undo=True)


# --- joining a community --------------------------------------------------------------------


async def membership_of(session: AsyncSession, me: auth.CurrentUser | None, community_actor: Actor) -> str | None:
    """"member", "pending" (waiting for a moderator) or None."""
    if me is None:
        return None
    follow = await following.find_follow(session, me.actor, community_actor)
    if follow is None:
        return None
    return "member" if follow.state == ACCEPTED else "pending"


async def _join_or_leave(request: Request, leave: bool) -> Response:
    name = request.path_params["name"].lower()
    form, me, problem = await _checked_form(request)
    if problem:
        if me is None:
            return redirect(request, login_url(f"/c/{name}"))
        raise HTTPException(403, auth.CSRF_FAILED)
    settings = request.app.state.settings
    async with db.transaction(request.app.state.sessions) as session:
        community, community_actor = await _community_and_actor(session, name)
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
    """Thread reading and writing. `/p/{post_id}` itself is routed by post_routes (JSON or HTML)."""
    return [
        Route("/p/{post_id}/reply", reply_page, methods=["GET", "POST"], name="post_reply"),
        Route("/p/{post_id}/like", like, methods=["POST"], name="post_like"),
        Route("/p/{post_id}/unlike", unlike, methods=["POST"], name="post_unlike"),
        Route("/p/{post_id}/edit", edit_page, methods=["GET", "POST"], name="post_edit"),
        Route("/p/{post_id}/delete", delete_page, methods=["GET", "POST"], name="post_delete"),
        Route("/c/{name}/new", new_thread, methods=["GET", "POST"], name="new_thread"),
        Route("/c/{name}/join", join, methods=["POST"], name="community_join"),
        Route("/c/{name}/leave", leave, methods=["POST"], name="community_leave"),
    ]
