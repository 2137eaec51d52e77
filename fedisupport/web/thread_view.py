"""What a thread page shows and how it is read: visibility, keyset pages, parents, the reply tree.

Every list here is paged by keyset on (published_at, id) through the indexes the `posts` table
has for it, so the thousandth page of a 500,000-reply thread costs what the first one does.
No page runs COUNT: the numbers shown come from the count columns on `posts`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from sqlalchemy import Select, and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..domain import following, pseudonyms, small_groups
from ..models import Actor, Community, Like, Post
from ..models.content import DELETED, MEMBERS, PUBLIC, PUBLISHED, REMOVED, UNLISTED
from ..models.social import ACCEPTED
from . import auth
from .paging import decode_cursor, encode_cursor
from ..i18n import lazy_gettext

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


def shown():
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


def with_authors() -> Select:
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
    row = (await session.execute(with_authors().where(Post.id == post_id))).first()
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
    query = with_authors().where(condition, shown())
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
    probe = with_authors().with_only_columns(Post.id).where(condition, shown(), bound).limit(1)
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


async def parent_refs(session: AsyncSession, items: list[Item], thread_id: int, on_page: dict[int, Item]) -> None:
    """Fill in "replying to @name" for replies that answer another reply (one query at most)."""
    missing = {i.post.parent_id for i in items
               if i.post.parent_id not in (None, thread_id) and i.post.parent_id not in on_page}
    found: dict[int, tuple[Post, Actor]] = {}
    if missing:
        rows = await session.execute(with_authors().where(Post.id.in_(missing)))
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


async def mark_likes(session: AsyncSession, items: list[Item], viewer: Actor | None) -> None:
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


def flatten(nodes: list[Item]) -> list[Item]:
    out = []
    for node in nodes:
        out.append(node)
        out.extend(flatten(node.children))
    return out


async def community_of(session: AsyncSession, post: Post) -> tuple[Community | None, Actor | None]:
    if post.community_id is None:
        return None, None
    row = (await session.execute(select(Community, Actor).join(Actor, Actor.id == Community.actor_id)
                                 .where(Community.actor_id == post.community_id))).first()
    return (row[0], row[1]) if row else (None, await session.get(Actor, post.community_id))


async def viewer_of(request: Request) -> auth.CurrentUser | None:
    """The signed-in person, or None (looked up once per request by auth)."""
    return await auth.current_user(request)


async def membership_of(session: AsyncSession, me: auth.CurrentUser | None, community_actor: Actor) -> str | None:
    """"member", "pending" (waiting for a moderator) or None."""
    if me is None:
        return None
    follow = await following.find_follow(session, me.actor, community_actor)
    if follow is None:
        return None
    return "member" if follow.state == ACCEPTED else "pending"
