"""When a post matches a crisis signal: an urgent welfare report for this instance's moderators.

Called once for each new post, local (domain/actions.write_thread, write_reply) or remote
(inbox/post_handlers.ingest). The post itself is never touched: it is published (or held) exactly
as it would have been. The report stays on this instance; no Flag is sent anywhere.

The report is what the moderators' queue reads (domain/mod_queue.open_reports): category
"welfare", urgent, no reporter (it came from the instance, not a person), about the post and its
author, in the post's community when it has one here.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Community, Post, Report, utcnow
from ..text import plain_text
from . import phrases

log = logging.getLogger("fedisupport.care")

REASON_PREFIX = "crisis signal: "
# A remote post older than this (a thread fetched by backfill, a parent fetched for a reply) is
# not news a moderator can act on urgently; it is not checked.
REMOTE_MAX_AGE = dt.timedelta(days=3)


def text_of(post: Post) -> str:
    """What the writer wrote: the title and the words (not the content warning)."""
    body = post.source if post.local and post.source is not None else plain_text(post.content_html or "")
    return f"{post.title}\n{body}" if post.title else body


async def _community_id(session: AsyncSession, post: Post) -> int | None:
    actor_id = post.community_id
    if actor_id is None and post.thread_id not in (None, post.id):
        actor_id = await session.scalar(select(Post.community_id).where(Post.id == post.thread_id))
    if actor_id is None:
        return None
    return await session.scalar(select(Community.id).where(Community.actor_id == actor_id))


def _older_than(when: dt.datetime | None, age: dt.timedelta) -> bool:
    if when is None:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return utcnow() - when > age


async def check_post(session: AsyncSession, post: Post | None) -> str | None:
    """Look for a crisis signal in a new post; on a match, file the urgent welfare report.

    Returns the phrase that matched (the web layer then shows the writer the crisis services), or
    None. Sets `post.crisis_signal` too, so a caller holding only the post can tell.
    """
    if post is None:
        return None
    post.crisis_signal = None
    if not post.local and _older_than(post.published_at, REMOTE_MAX_AGE):
        return None
    matcher = await phrases.matcher(session)
    found = matcher.find(text_of(post))
    post.crisis_signal = found.phrase if found else None
    if found is None:
        return None
    session.add(Report(
        ap_id=None, reporter_id=None, target_actor_id=post.author_id, post_id=post.id,
        community_id=await _community_id(session, post), reason=REASON_PREFIX + found.phrase,
        category="welfare", urgent=True, automatic=True, state="open", created_at=utcnow(),
    ))
    await session.flush()
    log.info("crisis signal in post %s (%s): urgent welfare report filed", post.id, found.language)
    return found.phrase
