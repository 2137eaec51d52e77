"""Everything this instance holds about a person, for them to take away."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..models import Actor, Community, Follow, Like, Post, User
from . import pseudonyms

EXPORT_FORMAT = "fedisupport-export/1"


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _posts_by(session: AsyncSession, author_id: int) -> list[dict[str, Any]]:
    thread = aliased(Post)
    rows = (await session.execute(
        select(Post, thread.ap_id, Actor.ap_id)
        .outerjoin(thread, thread.id == Post.thread_id)
        .outerjoin(Actor, Actor.id == Post.community_id)
        .where(Post.author_id == author_id).order_by(Post.published_at)
    )).all()
    return [
        {"id": post.ap_id, "url": post.url, "thread": thread_ap_id, "in_reply_to": post.in_reply_to_ap_id,
         "community": community, "title": post.title, "text": post.source, "html": post.content_html,
         "language": post.language, "content_warning": post.content_warning, "state": post.state,
         "published": _when(post.published_at), "edited": _when(post.updated_at)}
        for post, thread_ap_id, community in rows
    ]


async def export_person(session: AsyncSession, user: User) -> dict[str, Any]:
    """Profile, posts (with their Markdown as written), likes, follows and pseudonyms, as plain JSON."""
    actor = await session.get(Actor, user.actor_id)
    posts = await _posts_by(session, actor.id)
    # Their pseudonyms are theirs: only this export (for them alone) joins them to the account.
    worn = [{"id": p_actor.ap_id, "handle": p_actor.handle, "display_name": p_actor.display_name,
             "community": community.name, "since": _when(row.created_at),
             "posts": await _posts_by(session, p_actor.id)}
            for row, p_actor, community in await pseudonyms.of_user(session, user.id)]
    likes = [{"post": ap_id, "at": _when(at)} for ap_id, at in (await session.execute(
        select(Post.ap_id, Like.created_at).join(Post, Post.id == Like.post_id)
        .where(Like.actor_id == actor.id).order_by(Like.created_at))).all()]
    following = [{"actor": ap_id, "state": state, "since": _when(at)} for ap_id, state, at in (await session.execute(
        select(Actor.ap_id, Follow.state, Follow.created_at).join(Follow, Follow.target_id == Actor.id)
        .where(Follow.follower_id == actor.id).order_by(Follow.created_at))).all()]
    communities = [name for (name,) in (await session.execute(
        select(Community.name).join(Follow, Follow.target_id == Community.actor_id)
        .where(Follow.follower_id == actor.id))).all()]
    return {
        "format": EXPORT_FORMAT,
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "account": {"id": actor.ap_id, "username": actor.username, "handle": actor.handle,
                    "display_name": actor.display_name, "bio": actor.summary, "email": user.email,
                    "created": _when(user.created_at), "follower_count": actor.follower_count},
        "communities": communities,
        "following": following,
        "posts": posts,
        "likes": likes,
        "pseudonyms": worn,
    }
