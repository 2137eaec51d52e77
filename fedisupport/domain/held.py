"""Posts the policy holds back: kept out of view and queued for the community's moderators."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Community, HeldItem, Post
from ..models.content import PUBLISHED
from ..policy.decisions import Decision
from . import posting


async def hold_post(session: AsyncSession, post: Post, decision: Decision, *,
                    inbox_item_id: int | None = None) -> HeldItem:
    """Hold a post for review: state "held" (uncounted, never shown or sent) and a queue entry.

    `inbox_item_id`: for a remote post, the received activity its community Announces once a
    moderator approves it (FEP-1b12); None for our own posts and posts we fetched ourselves.
    """
    if post.state == PUBLISHED:
        await posting.hold(session, post)
    community_id = None
    if post.community_id is not None:
        community_id = await session.scalar(select(Community.id).where(Community.actor_id == post.community_id))
    held = HeldItem(kind="post", post_id=post.id, community_id=community_id, reason=(decision.reason or "held")[:2000],
                    urgent=decision.urgent, inbox_item_id=inbox_item_id)
    session.add(held)
    await session.flush()
    return held
