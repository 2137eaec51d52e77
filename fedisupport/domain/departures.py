"""When a remote actor is deleted at its origin, its content leaves this instance too."""
from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Actor, Community, Follow, Like, Post, Tombstone, utcnow
from ..models.content import DELETED
from ..models.social import ACCEPTED


async def remove_remote_actor(session: AsyncSession, actor: Actor) -> None:
    """Delete a remote actor's posts, likes and follows, keeping tombstones and fixing counts."""
    if actor.local:
        raise ValueError("remove_remote_actor is for remote actors")
    # Follows in either direction, with the counts they contributed.
    follows = list(await session.scalars(select(Follow).where(
        (Follow.follower_id == actor.id) | (Follow.target_id == actor.id))))
    for entry in follows:
        if entry.state == ACCEPTED:
            other = entry.target_id if entry.follower_id == actor.id else entry.follower_id
            column = Actor.follower_count if entry.follower_id == actor.id else Actor.following_count
            await session.execute(update(Actor).where(Actor.id == other).values({column: column - 1}))
            if entry.follower_id == actor.id:
                await session.execute(update(Community).where(Community.actor_id == other)
                                      .values(member_count=Community.member_count - 1))
        await session.delete(entry)
    # Likes: each one counted once on its post.
    liked = (await session.execute(select(Like.post_id, func.count()).where(Like.actor_id == actor.id)
                                   .group_by(Like.post_id))).all()
    for post_id, n in liked:
        await session.execute(update(Post).where(Post.id == post_id).values(like_count=Post.like_count - n))
    await session.execute(delete(Like).where(Like.actor_id == actor.id))
    # Posts: gone from view, remembered as tombstones so a late copy cannot bring them back.
    posts = list(await session.scalars(select(Post).where(Post.author_id == actor.id, Post.state != DELETED)))
    now = utcnow()
    for post in posts:
        if await session.get(Tombstone, post.ap_id) is None:
            session.add(Tombstone(ap_id=post.ap_id, former_type="Note", deleted_at=now))
        if not post.is_thread and post.thread_id is not None:
            await session.execute(update(Post).where(Post.id == post.thread_id)
                                  .values(thread_reply_count=Post.thread_reply_count - 1))
            if post.parent_id is not None:
                await session.execute(update(Post).where(Post.id == post.parent_id)
                                      .values(reply_count=Post.reply_count - 1))
        post.state = DELETED
        post.content_html = ""
        post.source = None
        post.title = None
    actor.deleted_at = now
    actor.public_key_pem = None
    await session.flush()
