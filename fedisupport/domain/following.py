"""Follows between actors, local or remote, and the answers to them."""
from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import GROUP, Actor, Community, Follow, HeldItem, utcnow
from ..models.social import ACCEPTED, PENDING
from ..outbox import activities
from ..outbox.publish import publish
from ..settings import Settings
from .errors import Conflict, DomainError, NotFound


async def _count_follow(session: AsyncSession, follow: Follow, delta: int) -> None:
    await session.execute(update(Actor).where(Actor.id == follow.target_id)
                          .values(follower_count=Actor.follower_count + delta))
    await session.execute(update(Actor).where(Actor.id == follow.follower_id)
                          .values(following_count=Actor.following_count + delta))
    await session.execute(update(Community).where(Community.actor_id == follow.target_id)
                          .values(member_count=Community.member_count + delta))


async def _invited(session: AsyncSession, target: Actor, follower: Actor) -> bool:
    """An invitation into a small group lets its invitee in without waiting for a moderator."""
    from .small_groups import joined_by_invitation  # small_groups builds on this module

    return await joined_by_invitation(session, target, follower)


async def find_follow(session: AsyncSession, follower: Actor, target: Actor) -> Follow | None:
    return await session.scalar(select(Follow).where(Follow.follower_id == follower.id, Follow.target_id == target.id))


async def receive_follow(session: AsyncSession, settings: Settings, follower: Actor, target: Actor,
                         follow_ap_id: str) -> Follow:
    """A remote actor asks to follow one of ours: accept at once, or hold it for a moderator."""
    if not target.local:
        raise DomainError("that actor does not live here")
    follow = await find_follow(session, follower, target)
    if follow is not None:
        # A repeated Follow (often after a lost Accept): answer again, change nothing else.
        follow.ap_id = follow_ap_id
        if follow.state == ACCEPTED:
            await publish(session, settings, target, activities.accept_follow(settings, target, follower, follow_ap_id),
                          [follower.inbox_url])
        return follow
    follow = Follow(follower_id=follower.id, target_id=target.id, ap_id=follow_ap_id, state=PENDING)
    session.add(follow)
    await session.flush()
    if target.manually_approves_followers and not await _invited(session, target, follower):
        community = await session.scalar(select(Community).where(Community.actor_id == target.id))
        session.add(HeldItem(kind="follow", follow_id=follow.id, community_id=community.id if community else None,
                             reason=f"{follower.handle} asks to join"))
        await session.flush()
        return follow
    await accept(session, settings, follow)
    return follow


async def accept(session: AsyncSession, settings: Settings, follow: Follow) -> None:
    """Accept a pending follow of one of our actors, and tell the follower's server."""
    if follow.state == ACCEPTED:
        return
    follow.state = ACCEPTED
    follow.accepted_at = utcnow()
    await _count_follow(session, follow, +1)
    follower = await session.get(Actor, follow.follower_id)
    target = await session.get(Actor, follow.target_id)
    if not follower.local:
        await publish(session, settings, target, activities.accept_follow(settings, target, follower, follow.ap_id),
                      [follower.inbox_url])


async def reject(session: AsyncSession, settings: Settings, follow: Follow) -> None:
    """Turn down a follow request (or end an accepted follow) and tell the follower's server."""
    follower = await session.get(Actor, follow.follower_id)
    target = await session.get(Actor, follow.target_id)
    if follow.state == ACCEPTED:
        await _count_follow(session, follow, -1)
    await session.delete(follow)
    await session.flush()
    if not follower.local and follow.ap_id:
        await publish(session, settings, target, activities.reject_follow(settings, target, follower, follow.ap_id),
                      [follower.inbox_url])


async def decide_held_follow(session: AsyncSession, settings: Settings, held_id: int, approve: bool,
                             moderator: Actor | None = None) -> HeldItem:
    held = await session.get(HeldItem, held_id)
    if held is None or held.kind != "follow":
        raise NotFound(f"no follow request {held_id}")
    if held.state != "pending":
        raise Conflict(f"follow request {held_id} was {held.state} already")
    follow = await session.get(Follow, held.follow_id) if held.follow_id else None
    held.state = "approved" if approve else "rejected"
    held.decided_at = utcnow()
    held.decided_by_id = moderator.id if moderator else None
    if follow is not None:
        if approve:
            await accept(session, settings, follow)
        else:
            held.follow_id = None
            await reject(session, settings, follow)
    return held


async def follow(session: AsyncSession, settings: Settings, follower: Actor, target: Actor) -> Follow:
    """One of our people follows (joins) another actor; remote ones are asked by a Follow."""
    if not follower.local:
        raise DomainError("only local people can follow from here")
    if follower.id == target.id:
        raise DomainError("you cannot follow yourself")
    existing = await find_follow(session, follower, target)
    if existing is not None:
        return existing
    if target.local:
        entry = Follow(follower_id=follower.id, target_id=target.id, state=PENDING)
        session.add(entry)
        await session.flush()
        if target.manually_approves_followers and target.kind == GROUP and not await _invited(session, target, follower):
            community = await session.scalar(select(Community).where(Community.actor_id == target.id))
            session.add(HeldItem(kind="follow", follow_id=entry.id, community_id=community.id if community else None,
                                 reason=f"{follower.handle} asks to join"))
        else:
            await accept(session, settings, entry)
        return entry
    if target.kind == GROUP:
        await remember_remote_community(session, target)
    doc = activities.follow(settings, follower, target)
    entry = Follow(follower_id=follower.id, target_id=target.id, ap_id=doc["id"], state=PENDING)
    session.add(entry)
    await session.flush()
    await publish(session, settings, follower, doc, [target.inbox_url])
    return entry


async def unfollow(session: AsyncSession, settings: Settings, follower: Actor, target: Actor) -> None:
    entry = await find_follow(session, follower, target)
    if entry is None:
        return
    if entry.state == ACCEPTED:
        await _count_follow(session, entry, -1)
    if not target.local and entry.ap_id:
        await publish(session, settings, follower, activities.undo_follow(settings, follower, target, entry.ap_id),
                      [target.inbox_url])
    await session.delete(entry)
    await session.flush()


async def follow_answered(session: AsyncSession, follow_ap_id: str, answering: Actor, accepted: bool) -> Follow | None:
    """A remote actor accepted or rejected one of our follows. Only the target may answer."""
    entry = await session.scalar(select(Follow).where(Follow.ap_id == follow_ap_id))
    if entry is None or entry.target_id != answering.id:
        return None
    if accepted:
        if entry.state != ACCEPTED:
            entry.state = ACCEPTED
            entry.accepted_at = utcnow()
            await _count_follow(session, entry, +1)
    else:
        if entry.state == ACCEPTED:
            await _count_follow(session, entry, -1)
        await session.delete(entry)
        await session.flush()
    return entry


async def remote_unfollowed(session: AsyncSession, follower: Actor, follow_ap_id: str | None, target_ap_id: str | None) -> bool:
    """Undo of a Follow: found by the Follow's id, or by who followed whom."""
    entry = None
    if follow_ap_id:
        entry = await session.scalar(select(Follow).where(Follow.ap_id == follow_ap_id))
    if entry is None and target_ap_id:
        target = await session.scalar(select(Actor).where(Actor.ap_id == target_ap_id))
        entry = await find_follow(session, follower, target) if target else None
    if entry is None or entry.follower_id != follower.id:
        return False
    if entry.state == ACCEPTED:
        await _count_follow(session, entry, -1)
    await session.execute(delete(HeldItem).where(HeldItem.follow_id == entry.id, HeldItem.state == "pending"))
    await session.delete(entry)
    await session.flush()
    return True


async def remember_remote_community(session: AsyncSession, group: Actor) -> Community:
    """A remote Group one of our people joins gets a community row, named name@host."""
    community = await session.scalar(select(Community).where(Community.actor_id == group.id))
    if community is None:
        community = Community(actor_id=group.id, local=False, name=f"{group.username}@{group.domain}".lower(),
                              title=group.display_name or group.username, description="")
        session.add(community)
        await session.flush()
    return community
