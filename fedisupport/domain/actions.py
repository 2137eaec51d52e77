"""What a person here does to posts, each with its federation: the web layer calls only these."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..care import welfare
from ..models import Actor, Community, Post
from ..outbox import distribute
from ..settings import Settings
from . import posting
from .errors import DomainError


async def write_thread(session: AsyncSession, settings: Settings, author: Actor, community: Community, *,
                       title: str | None, body: str, language: str | None = None,
                       content_warning: str | None = None) -> Post:
    post = await posting.start_thread(session, settings, author, community, title=title, body=body,
                                      language=language, content_warning=content_warning)
    await welfare.check_post(session, post)  # crisis signal: urgent welfare report, post unchanged
    await distribute.post_published(session, settings, post)
    return post


async def write_reply(session: AsyncSession, settings: Settings, author: Actor, parent: Post, *, body: str,
                      language: str | None = None, content_warning: str | None = None) -> Post:
    post = await posting.reply(session, settings, author, parent, body=body, language=language,
                               content_warning=content_warning)
    await welfare.check_post(session, post)  # crisis signal: urgent welfare report, post unchanged
    await distribute.post_published(session, settings, post)
    return post


def _check_author(post: Post, actor: Actor) -> None:
    if post.author_id != actor.id or not post.local:
        raise DomainError("Only the person who wrote a post can change it.")


async def edit(session: AsyncSession, settings: Settings, actor: Actor, post: Post, *, body: str,
               title: str | None = None, content_warning: str | None = None) -> Post:
    _check_author(post, actor)
    await posting.edit_post(session, post, body=body, title=title, content_warning=content_warning)
    await distribute.post_changed(session, settings, post, deleted=False)
    return post


async def delete(session: AsyncSession, settings: Settings, actor: Actor, post: Post) -> None:
    _check_author(post, actor)
    await posting.delete_post(session, post)
    await distribute.post_changed(session, settings, post, deleted=True)


async def like(session: AsyncSession, settings: Settings, actor: Actor, post: Post) -> bool:
    """Show support ("I hear you"); False if this person did already."""
    if not await posting.add_like(session, actor, post):
        return False
    like_id = await distribute.like_changed(session, settings, actor, post, None, undone=False)
    await posting.set_like_ap_id(session, actor, post, like_id)
    return True


async def unlike(session: AsyncSession, settings: Settings, actor: Actor, post: Post) -> bool:
    like = await posting.remove_like(session, actor, post)
    if like is None:
        return False
    await distribute.like_changed(session, settings, actor, post, like.ap_id, undone=True)
    return True
