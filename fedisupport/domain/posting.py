"""Threads and replies written on this instance."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import urls
from ..ids import new_id
from ..models import Actor, Community, Post, utcnow
from ..settings import Settings
from ..text import render_markdown
from .errors import DomainError

MAX_TITLE = 300
MAX_BODY = 20_000


async def start_thread(
    session: AsyncSession, settings: Settings, author: Actor, community: Community, *, title: str | None,
    body: str, language: str | None = None, content_warning: str | None = None,
) -> Post:
    """A new thread in a local community, published at once."""
    body = body.strip()
    title = (title or "").strip() or None
    if not body:
        raise DomainError("write something first: the post is empty")
    if len(body) > MAX_BODY:
        raise DomainError(f"a post can be at most {MAX_BODY} characters")
    if title and len(title) > MAX_TITLE:
        raise DomainError(f"a title can be at most {MAX_TITLE} characters")
    now = utcnow()
    post_id = new_id()
    ap_id = urls.post(settings, post_id)
    post = Post(
        id=post_id, ap_id=ap_id, local=True, author_id=author.id, community_id=community.actor_id,
        thread_id=post_id, is_thread=True, context_ap_id=ap_id + "/context", url=ap_id, title=title,
        source=body, content_html=render_markdown(body), language=language,
        content_warning=(content_warning or "").strip() or None, sensitive=bool(content_warning),
        published_at=now, last_activity_at=now,
    )
    session.add(post)
    await session.flush()
    await session.execute(update(Community).where(Community.id == community.id).values(thread_count=Community.thread_count + 1))
    await session.execute(update(Actor).where(Actor.id == author.id).values(post_count=Actor.post_count + 1))
    return post
