"""Threads and replies: written here or arriving from other servers, edited, liked and deleted.

Counts live in columns and change with SQL increments, so concurrent replies and likes never
lose an update and no page has to COUNT a thread.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .. import urls
from ..ids import new_id
from ..models import Actor, Community, Follow, Like, Post, Tombstone, utcnow
from ..models.content import DELETED, HELD, MEMBERS, PUBLIC, PUBLISHED, REMOVED
from ..models.social import ACCEPTED
from ..settings import Settings
from ..text import plain_text, render_markdown
from .bans import BANNED_MESSAGE, active_ban
from .errors import DomainError, NotFound
from ..i18n import gettext, lazy_gettext

MAX_TITLE = 300
MAX_BODY = 20_000
MAX_CW = 500


def _check_text(body: str, title: str | None, content_warning: str | None) -> tuple[str, str | None, str | None]:
    body = (body or "").strip()
    title = (title or "").strip() or None
    content_warning = (content_warning or "").strip() or None
    if not body:
        raise DomainError(gettext("Write something first: the post is empty."))
    if len(body) > MAX_BODY:
        raise DomainError(gettext("A post can be at most %(max)s characters.", max=MAX_BODY))
    if title and len(title) > MAX_TITLE:
        raise DomainError(gettext("A title can be at most %(max)s characters.", max=MAX_TITLE))
    if content_warning and len(content_warning) > MAX_CW:
        raise DomainError(gettext("A content warning can be at most %(max)s characters.", max=MAX_CW))
    return body, title, content_warning


MEMBERS_ONLY_MESSAGE = lazy_gettext("Only the group's members can write here.")


async def _member(session: AsyncSession, author: Actor, group_actor_id: int | None) -> bool:
    """An accepted follower of the group: who may write in a small group's members-only threads."""
    return group_actor_id is not None and bool(await session.scalar(select(Follow.id).where(
        Follow.follower_id == author.id, Follow.target_id == group_actor_id, Follow.state == ACCEPTED)))


def _insert(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def _count_reply(session: AsyncSession, thread_id: int, parent_id: int, delta: int, when: dt.datetime | None) -> None:
    await session.execute(update(Post).where(Post.id == parent_id).values(reply_count=Post.reply_count + delta))
    values = {"thread_reply_count": Post.thread_reply_count + delta}
    if when is not None:
        values["last_activity_at"] = when
    await session.execute(update(Post).where(Post.id == thread_id).values(**values))


async def start_thread(
    session: AsyncSession, settings: Settings, author: Actor, community: Community, *, title: str | None,
    body: str, language: str | None = None, content_warning: str | None = None,
) -> Post:
    """A new thread by one of our people in a community (local or remote)."""
    body, title, content_warning = _check_text(body, title, content_warning)
    if await active_ban(session, community.actor_id, author.id):
        raise DomainError(BANNED_MESSAGE)
    if community.members_only and not await _member(session, author, community.actor_id):
        raise DomainError(MEMBERS_ONLY_MESSAGE)
    now = utcnow()
    post_id = new_id()
    ap_id = urls.post(settings, post_id)
    post = Post(
        id=post_id, ap_id=ap_id, local=True, author_id=author.id, community_id=community.actor_id,
        thread_id=post_id, is_thread=True, context_ap_id=ap_id + "/context", url=ap_id, title=title,
        source=body, content_html=render_markdown(body), language=language, content_warning=content_warning,
        sensitive=bool(content_warning), published_at=now, last_activity_at=now,
        # A small group's threads are for its members only (docs/small-groups.md).
        visibility=MEMBERS if community.members_only else PUBLIC,
    )
    session.add(post)
    await session.flush()
    await session.execute(update(Community).where(Community.id == community.id).values(thread_count=Community.thread_count + 1))
    await session.execute(update(Actor).where(Actor.id == author.id).values(post_count=Actor.post_count + 1))
    return post


async def thread_of(session: AsyncSession, post: Post) -> Post:
    if post.is_thread or post.thread_id is None:
        return post
    thread = await session.get(Post, post.thread_id)
    if thread is None:
        raise NotFound("That thread is gone.")
    return thread


async def reply(
    session: AsyncSession, settings: Settings, author: Actor, parent: Post, *, body: str,
    language: str | None = None, content_warning: str | None = None,
) -> Post:
    """A reply by one of our people to a thread or to a reply in it."""
    body, _, content_warning = _check_text(body, None, content_warning)
    if parent.state != PUBLISHED:
        raise DomainError(gettext("That post is no longer here, so it can't be replied to."))
    thread = await thread_of(session, parent)
    if thread.locked:
        raise DomainError(gettext("This thread is locked: the moderators have closed it to new replies."))
    if await active_ban(session, thread.community_id, author.id):
        raise DomainError(BANNED_MESSAGE)
    if thread.visibility == MEMBERS and not await _member(session, author, thread.community_id):
        raise DomainError(MEMBERS_ONLY_MESSAGE)
    now = utcnow()
    post_id = new_id()
    ap_id = urls.post(settings, post_id)
    post = Post(
        id=post_id, ap_id=ap_id, local=True, author_id=author.id, community_id=thread.community_id,
        thread_id=thread.id, parent_id=parent.id, is_thread=False, in_reply_to_ap_id=parent.ap_id,
        context_ap_id=thread.context_ap_id, url=ap_id, source=body, content_html=render_markdown(body),
        language=language or parent.language, content_warning=content_warning, sensitive=bool(content_warning),
        depth=parent.depth + 1, published_at=now, last_activity_at=now,
        # A reply in a members-only thread is members-only too.
        visibility=MEMBERS if thread.visibility == MEMBERS else PUBLIC,
    )
    session.add(post)
    await session.flush()
    await _count_reply(session, thread.id, parent.id, +1, now)
    await session.execute(update(Actor).where(Actor.id == author.id).values(post_count=Actor.post_count + 1))
    return post


@dataclass(frozen=True)
class RemotePost:
    """A post from another server, already checked and sanitised by the inbox."""

    ap_id: str
    content_html: str
    title: str | None = None
    language: str | None = None
    content_warning: str | None = None
    sensitive: bool = False
    url: str | None = None
    context_ap_id: str | None = None
    in_reply_to_ap_id: str | None = None
    published_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    visibility: str = "public"


async def store_remote_post(
    session: AsyncSession, author: Actor, data: RemotePost, *, community: Actor | None, parent: Post | None,
    state: str = PUBLISHED,
) -> Post | None:
    """Store a remote thread (parent None) or reply. None when it was deleted before it arrived.

    `state` HELD (the policy's HOLD): kept for a moderator and left out of the counts until
    `set_state(post, PUBLISHED)` approves it.
    """
    if await session.get(Tombstone, data.ap_id) is not None:
        return None  # a late Create must not resurrect a deleted post
    existing = await session.scalar(select(Post).where(Post.ap_id == data.ap_id))
    if existing is not None:
        return existing
    now = utcnow()
    published = min(data.published_at or now, now)  # a post from the future would pin itself on top
    post_id = new_id()
    if parent is None:
        post = Post(id=post_id, thread_id=post_id, is_thread=True, community_id=community.id if community else None,
                    depth=0, title=data.title)
    else:
        thread = await thread_of(session, parent)
        post = Post(id=post_id, thread_id=thread.id, parent_id=parent.id, is_thread=False,
                    community_id=thread.community_id, depth=parent.depth + 1)
    post.ap_id = data.ap_id
    post.local = False
    post.author_id = author.id
    post.in_reply_to_ap_id = data.in_reply_to_ap_id
    post.context_ap_id = data.context_ap_id
    post.url = data.url
    post.content_html = data.content_html
    post.language = data.language
    post.content_warning = data.content_warning
    post.sensitive = data.sensitive or bool(data.content_warning)
    post.visibility = data.visibility
    post.published_at = published
    post.updated_at = data.updated_at
    post.last_activity_at = published
    post.state = state
    session.add(post)
    await session.flush()
    if state != PUBLISHED:
        return post
    if parent is not None:
        await _count_reply(session, post.thread_id, parent.id, +1, max(published, parent.published_at))
    elif community is not None:
        await session.execute(update(Community).where(Community.actor_id == community.id)
                              .values(thread_count=Community.thread_count + 1))
    return post


async def edit_post(session: AsyncSession, post: Post, *, body: str | None = None, content_html: str | None = None,
                    title: str | None = None, content_warning: str | None = None) -> Post:
    """Change a post's text: Markdown for our own posts, sanitised HTML for remote ones."""
    if post.state == DELETED:
        raise DomainError(gettext("That post was deleted."))
    if body is not None:
        body, title, content_warning = _check_text(body, title if post.is_thread else None, content_warning)
        post.source = body
        post.content_html = render_markdown(body)
    elif content_html is not None:
        post.content_html = content_html
    if post.is_thread:
        post.title = title
    post.content_warning = content_warning
    post.sensitive = bool(content_warning)
    post.updated_at = utcnow()
    await session.flush()
    return post


async def delete_post(session: AsyncSession, post: Post) -> None:
    """Delete a post for good: its text goes, a tombstone stays, counts follow."""
    if post.state == DELETED:
        return
    was_visible = post.state == PUBLISHED
    post.state = DELETED
    post.content_html = ""
    post.source = None
    post.title = None
    post.content_warning = None
    post.updated_at = utcnow()
    if await session.get(Tombstone, post.ap_id) is None:
        session.add(Tombstone(ap_id=post.ap_id, former_type="Note"))
    if was_visible:
        await _count_visible(session, post, -1)
    await session.flush()


# --- moderation states (domain/moderation.py decides; this keeps the counts) -----------------
# Only published posts count: a held post is added to its thread's counts when it is approved,
# a removed one leaves them, a restored one comes back.
MODERATION_STATES = (PUBLISHED, HELD, REMOVED)


async def _count_visible(session: AsyncSession, post: Post, delta: int) -> None:
    """A post starts (+1) or stops (-1) being shown: its parent's and thread's, or community's, counts."""
    if post.is_thread:
        if post.community_id is not None:
            await session.execute(update(Community).where(Community.actor_id == post.community_id)
                                  .values(thread_count=Community.thread_count + delta))
    elif post.parent_id is not None and post.thread_id is not None:
        await _count_reply(session, post.thread_id, post.parent_id, delta, utcnow() if delta > 0 else None)


async def set_state(session: AsyncSession, post: Post, state: str) -> bool:
    """Move a post between published, held and removed, keeping counts right; False if already there.

    A deleted post stays deleted. Held and removed posts keep their text, so a moderator can read
    it and a removal can be undone.
    """
    if state not in MODERATION_STATES:
        raise ValueError(f"not a moderation state: {state}")
    if post.state == DELETED:
        raise DomainError(gettext("That post was deleted by the person who wrote it."))
    if post.state == state:
        return False
    was_visible = post.state == PUBLISHED
    post.state = state
    if was_visible != (state == PUBLISHED):
        await _count_visible(session, post, +1 if state == PUBLISHED else -1)
    await session.flush()
    return True


async def hold(session: AsyncSession, post: Post) -> bool:
    """Keep a just-written post back for a moderator (the policy's HOLD): uncounted until approved."""
    return await set_state(session, post, HELD)


async def add_like(session: AsyncSession, actor: Actor, post: Post, ap_id: str | None = None) -> bool:
    """Count support for a post once per actor; False when it was counted already."""
    if post.state != PUBLISHED:
        raise DomainError(gettext("That post is no longer here."))
    result = await session.execute(
        _insert(session)(Like).values(post_id=post.id, actor_id=actor.id, ap_id=ap_id, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    if not result.rowcount:
        return False
    await session.execute(update(Post).where(Post.id == post.id).values(like_count=Post.like_count + 1))
    return True


async def remove_like(session: AsyncSession, actor: Actor, post: Post) -> Like | None:
    like = await session.scalar(select(Like).where(Like.post_id == post.id, Like.actor_id == actor.id))
    if like is None:
        return None
    await session.delete(like)
    await session.execute(update(Post).where(Post.id == post.id).values(like_count=Post.like_count - 1))
    await session.flush()
    return like


async def post_by_ap_id(session: AsyncSession, ap_id: str) -> Post | None:
    return await session.scalar(select(Post).where(Post.ap_id == ap_id))


def title_from_text(html: str, limit: int = 120) -> str:
    """A thread title from the first line of a post that started a thread by mentioning us."""
    first = plain_text(html).split("\n", 1)[0].strip()
    words = [w for w in first.split() if not w.startswith("@")]
    title = " ".join(words) or "A new thread"
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


async def set_like_ap_id(session: AsyncSession, actor: Actor, post: Post, ap_id: str) -> None:
    await session.execute(update(Like).where(Like.post_id == post.id, Like.actor_id == actor.id).values(ap_id=ap_id))
