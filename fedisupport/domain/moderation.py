"""Volunteer moderation: who may moderate, and what moderators do.

Who: a community's owner and moderators (`memberships`), and the instance's admins everywhere.
Owners and admins appoint and dismiss moderators. Admins alone suspend remote accounts.

What: decide held items (posts, join requests, activities), remove and restore posts, ban and
unban people from a community (with an optional expiry; an expired ban stops counting), lock
and unlock threads, pin and unpin them, set a thread's slow mode. Every action writes a
`ModAction`; the public modlog reads those (never who reported, never who moderated, never
decisions about who joins a community: membership of a support community is private).

Federation: an action on one of OUR communities goes out from the community (outbox/moderation.py)
and is announced to its forum followers. An action on a remote community's posts is applied here
only. `received=` is for the inbox: a remote moderator's activity, already verified under
FEP-1b12's rules by inbox/mod_handlers.py, is applied without the local permission check, and
when the community is ours it is announced unchanged instead of being rewritten.

Reports are in domain/reports.py; what the queue and the modlog pages read, in domain/mod_queue.py.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import (PERSON, Actor, Community, CommunityBan, Follow, HeldItem, InboxItem, Membership, ModAction,
                      Post, User, utcnow)
from ..models.content import DELETED, HELD, PUBLISHED, REMOVED
from ..models.queues import QUEUED
from ..models.social import MEMBER, MODERATOR, OWNER
from ..outbox import distribute
from ..outbox import moderation as outbox
from ..settings import Settings
from . import following, posting
from .bans import active_ban, in_force
from .errors import Conflict, DomainError, NotFound
from ..i18n import _

MOD_ROLES = (OWNER, MODERATOR)
# Logged for admins, never shown on the public modlog: who joins a support community is private,
# and so is which account is behind a pseudonym (domain/pseudonyms.suspend).
PRIVATE_ACTIONS = frozenset({"approve_member", "decline_member", "suspend_owner", "unsuspend_owner"})
MAX_REASON = 2000
MAX_SLOW_MODE = 24 * 3600


class NotAllowed(DomainError):
    """The person asking may not do this here."""


def clean_reason(text: str | None, limit: int = MAX_REASON) -> str:
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > limit:
        raise DomainError(_("Please keep the reason to %(max)s characters or fewer.", max=limit))
    return text


# --- who may moderate ---------------------------------------------------------------------------


async def is_admin(session: AsyncSession, actor: Actor | None) -> bool:
    if actor is None or not actor.local:
        return False
    return bool(await session.scalar(select(User.is_admin).where(User.actor_id == actor.id)))


async def role_in(session: AsyncSession, actor: Actor, community: Community) -> str | None:
    return await session.scalar(select(Membership.role).where(Membership.community_id == community.id,
                                                              Membership.actor_id == actor.id))


async def may_moderate(session: AsyncSession, actor: Actor | None, community: Community | None) -> bool:
    """Admins moderate everything here; owners and moderators their own (local) community."""
    if actor is None or actor.suspended or actor.deleted_at is not None:
        return False
    if await is_admin(session, actor):
        return True
    if community is None or not community.local:
        return False
    return await role_in(session, actor, community) in MOD_ROLES


async def require_moderator(session: AsyncSession, actor: Actor | None, community: Community | None) -> None:
    if not await may_moderate(session, actor, community):
        raise NotAllowed("Only this community's moderators can do that.")


async def may_manage_moderators(session: AsyncSession, actor: Actor | None, community: Community) -> bool:
    if actor is None or not community.local:
        return False
    return await is_admin(session, actor) or await role_in(session, actor, community) == OWNER


async def moderated_community_ids(session: AsyncSession, actor: Actor) -> list[int] | None:
    """The communities this person moderates; None for an admin, who moderates them all."""
    if await is_admin(session, actor):
        return None
    return list(await session.scalars(
        select(Membership.community_id).join(Community, Community.id == Membership.community_id)
        .where(Membership.actor_id == actor.id, Membership.role.in_(MOD_ROLES), Community.local.is_(True))))


async def moderates_anything(session: AsyncSession, actor: Actor | None) -> bool:
    if actor is None:
        return False
    ids = await moderated_community_ids(session, actor)
    return ids is None or bool(ids)


async def community_of(session: AsyncSession, post: Post) -> Community | None:
    if post.community_id is None:
        return None
    return await session.scalar(select(Community).where(Community.actor_id == post.community_id))


async def community_for_group(session: AsyncSession, group: Actor) -> Community:
    """The community row of a Group actor; remote ones get one when first needed."""
    if group.local:
        row = await session.scalar(select(Community).where(Community.actor_id == group.id))
        if row is None:
            raise NotFound("That community is gone.")
        return row
    return await following.remember_remote_community(session, group)


async def _group(session: AsyncSession, community: Community | None) -> Actor | None:
    return await session.get(Actor, community.actor_id) if community is not None else None


async def _log(session: AsyncSession, moderator: Actor | None, community: Community | None, action: str, *,
               target_actor_id: int | None = None, target_post: Post | None = None, reason: str = "",
               expires_at: dt.datetime | None = None) -> ModAction:
    entry = ModAction(moderator_id=moderator.id if moderator else None, community_id=community.id if community else None,
                      action=action, target_actor_id=target_actor_id,
                      target_post_id=target_post.id if target_post is not None else None,
                      reason=reason or "", expires_at=expires_at, created_at=utcnow())
    session.add(entry)
    await session.flush()
    return entry


# --- moderators ---------------------------------------------------------------------------------


async def moderators_of(session: AsyncSession, community: Community) -> list[tuple[Membership, Actor]]:
    rows = await session.execute(
        select(Membership, Actor).join(Actor, Actor.id == Membership.actor_id)
        .where(Membership.community_id == community.id, Membership.role.in_(MOD_ROLES))
        .order_by((Membership.role == OWNER).desc(), Membership.created_at, Membership.id))
    return [(m, a) for m, a in rows.all()]


async def appoint(session: AsyncSession, settings: Settings, by: Actor, community: Community, person: Actor) -> Membership:
    """Make someone (here or on another server) a moderator; federated as Add to `moderators`."""
    if not await may_manage_moderators(session, by, community):
        raise NotAllowed("Only the community's owner or an admin can appoint moderators.")
    return await _appoint(session, settings, by, community, person)


async def appoint_by_operator(session: AsyncSession, settings: Settings, community: Community,
                              person: Actor) -> Membership:
    """`fedisupport admin make-moderator`: the site's operator, who acts as no account, appoints."""
    if not community.local:
        raise NotAllowed("Moderators of a community on another server are chosen there.")
    return await _appoint(session, settings, None, community, person)


async def _appoint(session: AsyncSession, settings: Settings, by: Actor | None, community: Community,
                   person: Actor) -> Membership:
    if person.kind != PERSON or person.deleted_at is not None or person.suspended:
        raise DomainError(_("Only a person with an active account can be a moderator."))
    if await active_ban(session, community.actor_id, person.id):
        raise DomainError(f"{person.handle} is banned from this community. Lift the ban first.")
    membership = await session.scalar(select(Membership).where(Membership.community_id == community.id,
                                                                Membership.actor_id == person.id))
    if membership is not None and membership.role in MOD_ROLES:
        raise Conflict(f"{person.handle} is a moderator here already.")
    if membership is None:
        membership = Membership(community_id=community.id, actor_id=person.id, role=MODERATOR, created_at=utcnow())
        session.add(membership)
    else:
        membership.role = MODERATOR
    await session.flush()
    await _log(session, by, community, "appoint", target_actor_id=person.id)
    group = await _group(session, community)
    await outbox.send(session, settings, group, outbox.moderator_change(settings, group, person, add=True), direct=[person])
    return membership


async def dismiss(session: AsyncSession, settings: Settings, by: Actor, community: Community, person: Actor) -> None:
    """Someone stops being a moderator; federated as Remove from `moderators`. Owners stay."""
    if not await may_manage_moderators(session, by, community):
        raise NotAllowed("Only the community's owner or an admin can dismiss moderators.")
    membership = await session.scalar(select(Membership).where(Membership.community_id == community.id,
                                                                Membership.actor_id == person.id))
    if membership is None or membership.role not in MOD_ROLES:
        raise NotFound(f"{person.handle} isn't a moderator here.")
    if membership.role == OWNER:
        raise DomainError(_("The community's owner stays a moderator."))
    membership.role = MEMBER
    await session.flush()
    await _log(session, by, community, "dismiss", target_actor_id=person.id)
    group = await _group(session, community)
    await outbox.send(session, settings, group, outbox.moderator_change(settings, group, person, add=False), direct=[person])


# --- held items --------------------------------------------------------------------------------


async def _close_held(session: AsyncSession, post: Post, moderator: Actor | None, approved: bool) -> None:
    await session.execute(update(HeldItem).where(HeldItem.post_id == post.id, HeldItem.state == "pending").values(
        state="approved" if approved else "rejected", decided_at=utcnow(),
        decided_by_id=moderator.id if moderator else None))


async def _publish_held(session: AsyncSession, settings: Settings, post: Post, held: HeldItem | None) -> None:
    """A held post goes out as if it had never waited: ours as a Create, a remote one announced."""
    await posting.set_state(session, post, PUBLISHED)
    if post.local:
        await distribute.post_published(session, settings, post)
        return
    group = await session.get(Actor, post.community_id) if post.community_id else None
    if group is None or not group.local:
        return
    inner: Any = post.ap_id
    item = await session.get(InboxItem, held.inbox_item_id) if held is not None and held.inbox_item_id else None
    if item is not None:
        received = json.loads(item.body)
        if isinstance(received, dict) and received.get("type") == "Create":
            inner = received  # FEP-1b12: the received activity, unchanged
    await distribute.announce(session, settings, group, inner, boost_note=post.ap_id, new_thread=post.is_thread,
                              members_only=post.visibility == "members")
    post.announced_at = utcnow()


async def decide_held(session: AsyncSession, settings: Settings, moderator: Actor, held_id: int, *, approve: bool,
                      reason: str = "") -> HeldItem:
    """Approve or turn down something waiting in the queue."""
    held = await session.get(HeldItem, held_id)
    if held is None:
        raise NotFound("That item isn't in the queue any more.")
    community = await session.get(Community, held.community_id) if held.community_id else None
    if held.kind == "post" and community is None and held.post_id:
        post = await session.get(Post, held.post_id)
        community = await community_of(session, post) if post else None
    await require_moderator(session, moderator, community)
    if held.state != "pending":
        raise Conflict("Someone has already decided this one.")
    reason = clean_reason(reason)
    if held.kind == "follow":
        follow = await session.get(Follow, held.follow_id) if held.follow_id else None
        follower_id = follow.follower_id if follow else None
        await following.decide_held_follow(session, settings, held.id, approve, moderator)
        await _log(session, moderator, community, "approve_member" if approve else "decline_member",
                   target_actor_id=follower_id, reason=reason)
        return held
    held.state = "approved" if approve else "rejected"
    held.decided_at = utcnow()
    held.decided_by_id = moderator.id
    if held.kind == "translation":
        from . import translations  # it sends its Update through outbox like a post edit

        post = await translations.decide_held(session, settings, held, approve=approve)
        await _log(session, moderator, community, "approve_translation" if approve else "reject_translation",
                   target_post=post, reason=reason)
    elif held.kind == "post":
        post = await session.get(Post, held.post_id) if held.post_id else None
        if post is None or post.state == DELETED:
            return held  # withdrawn by its author meanwhile
        if approve:
            await _publish_held(session, settings, post, held)
        else:
            await posting.set_state(session, post, REMOVED)
        await _log(session, moderator, community, "approve" if approve else "reject", target_post=post,
                   target_actor_id=post.author_id, reason=reason)
    else:
        # An activity held before it was handled: approving runs it again, marked as approved here
        # (the policy's inbound check lets an activity whose held item is approved through).
        item = await session.get(InboxItem, held.inbox_item_id) if held.inbox_item_id else None
        if approve and item is not None:
            item.state = QUEUED
            item.next_attempt_at = utcnow()
            item.locked_until = None
            item.error = None
        await _log(session, moderator, community, "approve_activity" if approve else "reject_activity", reason=reason)
    await session.flush()
    return held


# --- posts ---------------------------------------------------------------------------------------


async def remove_post(session: AsyncSession, settings: Settings, moderator: Actor, post: Post, reason: str = "", *,
                      received: dict[str, Any] | None = None) -> ModAction | None:
    """Take a post out of view, keeping it so it can be restored. None when it was removed already."""
    community = await community_of(session, post)
    if received is None:
        await require_moderator(session, moderator, community)
    reason = clean_reason(reason)
    if post.state == DELETED:
        raise DomainError(_("That post was deleted by the person who wrote it."))
    was = post.state
    if was == REMOVED:
        return None
    await posting.set_state(session, post, REMOVED)
    await _close_held(session, post, moderator, approved=False)
    entry = await _log(session, moderator, community, "remove", target_post=post, target_actor_id=post.author_id,
                       reason=reason)
    group = await _group(session, community)
    if group is not None and group.local and was == PUBLISHED:
        if received is not None:
            await outbox.pass_on(session, settings, group, received)
        else:
            await outbox.send(session, settings, group, outbox.removal(settings, group, post.ap_id, reason))
        if post.is_thread:
            await outbox.withdraw_boost(session, settings, group, post)
    return entry


async def restore_post(session: AsyncSession, settings: Settings, moderator: Actor, post: Post, reason: str = "", *,
                       received: dict[str, Any] | None = None) -> ModAction | None:
    """Undo a removal. None when the post wasn't removed."""
    community = await community_of(session, post)
    if received is None:
        await require_moderator(session, moderator, community)
    reason = clean_reason(reason)
    if post.state != REMOVED:
        return None
    await posting.set_state(session, post, PUBLISHED)
    entry = await _log(session, moderator, community, "restore", target_post=post, target_actor_id=post.author_id,
                       reason=reason)
    group = await _group(session, community)
    if group is not None and group.local:
        if received is not None:
            await outbox.pass_on(session, settings, group, received)
        else:
            removal = outbox.removal(settings, group, post.ap_id, reason)
            await outbox.send(session, settings, group, outbox.undo(settings, group, removal))
        if post.is_thread:
            await outbox.reboost_thread(session, settings, group, post)
    return entry


def _require_thread(post: Post) -> None:
    if not post.is_thread:
        raise DomainError(_("Only a whole thread can be locked or pinned."))


async def lock_thread(session: AsyncSession, settings: Settings, moderator: Actor, thread: Post, *, locked: bool,
                      reason: str = "", received: dict[str, Any] | None = None) -> ModAction | None:
    """Close a thread to new replies (or open it again); federated as Lock / Undo{Lock}."""
    _require_thread(thread)
    community = await community_of(session, thread)
    if received is None:
        await require_moderator(session, moderator, community)
    reason = clean_reason(reason)
    if thread.locked == locked:
        return None
    thread.locked = locked
    await session.flush()
    entry = await _log(session, moderator, community, "lock" if locked else "unlock", target_post=thread,
                       target_actor_id=thread.author_id, reason=reason)
    group = await _group(session, community)
    if group is not None and group.local:
        if received is not None:
            await outbox.pass_on(session, settings, group, received)
        else:
            doc = outbox.lock(settings, group, thread.ap_id, reason)
            await outbox.send(session, settings, group, doc if locked else outbox.undo(settings, group, doc))
    return entry


async def pin_thread(session: AsyncSession, settings: Settings, moderator: Actor, thread: Post, *, pinned: bool,
                     received: dict[str, Any] | None = None) -> ModAction | None:
    """Pin a thread to the top of its community (the Group's `featured`); Add / Remove."""
    _require_thread(thread)
    community = await community_of(session, thread)
    if received is None:
        await require_moderator(session, moderator, community)
    if thread.pinned == pinned:
        return None
    if pinned and thread.state != PUBLISHED:
        raise DomainError(_("Only a published thread can be pinned."))
    thread.pinned = pinned
    await session.flush()
    entry = await _log(session, moderator, community, "pin" if pinned else "unpin", target_post=thread,
                       target_actor_id=thread.author_id)
    group = await _group(session, community)
    if group is not None and group.local:
        if received is not None:
            await outbox.pass_on(session, settings, group, received)
        else:
            await outbox.send(session, settings, group, outbox.featured(settings, group, thread.ap_id, add=pinned))
    return entry


def describe_wait(seconds: int) -> str:
    if seconds <= 0:
        return "off"
    if seconds % 3600 == 0:
        n = seconds // 3600
        return f"one reply every {n} hour{'s' if n != 1 else ''}"
    if seconds % 60 == 0:
        n = seconds // 60
        return f"one reply every {n} minute{'s' if n != 1 else ''}"
    return f"one reply every {seconds} seconds"


async def set_slow_mode(session: AsyncSession, moderator: Actor, thread: Post, seconds: int, reason: str = "") -> ModAction | None:
    """How long each person waits between two replies in this thread (0 turns it off). Local only."""
    _require_thread(thread)
    community = await community_of(session, thread)
    await require_moderator(session, moderator, community)
    if not 0 <= seconds <= MAX_SLOW_MODE:
        raise DomainError(_("Slow mode can be at most one reply a day."))
    reason = clean_reason(reason)
    if thread.slow_mode_seconds == seconds:
        return None
    thread.slow_mode_seconds = seconds
    await session.flush()
    note = f"Slow mode {describe_wait(seconds)}" + (f": {reason}" if reason else "")
    return await _log(session, moderator, community, "slow_mode", target_post=thread, target_actor_id=thread.author_id,
                      reason=note)


async def recently_removed(session: AsyncSession, community: Community, limit: int = 20) -> list[tuple[Post, Actor, str]]:
    """The community's removed posts, newest removal first, with the reason given (to restore them)."""
    rows = await session.execute(
        select(Post, Actor, ModAction.reason).join(Actor, Actor.id == Post.author_id)
        .join(ModAction, (ModAction.target_post_id == Post.id) & (ModAction.action == "remove"))
        .where(Post.community_id == community.actor_id, Post.state == REMOVED)
        .order_by(ModAction.created_at.desc(), ModAction.id.desc()).limit(limit * 2))
    seen, out = set(), []
    for post, author, reason in rows.all():
        if post.id not in seen:
            seen.add(post.id)
            out.append((post, author, reason))
    return out[:limit]


# --- people --------------------------------------------------------------------------------------


async def bans_of(session: AsyncSession, community: Community) -> list[tuple[CommunityBan, Actor]]:
    """The bans in force, newest first."""
    rows = await session.execute(
        select(CommunityBan, Actor).join(Actor, Actor.id == CommunityBan.actor_id)
        .where(CommunityBan.community_id == community.id, in_force())
        .order_by(CommunityBan.created_at.desc(), CommunityBan.id.desc()))
    return [(b, a) for b, a in rows.all()]


async def ban(session: AsyncSession, settings: Settings, moderator: Actor, community: Community, person: Actor,
              reason: str = "", *, expires_at: dt.datetime | None = None, remove_data: bool = False,
              received: dict[str, Any] | None = None) -> CommunityBan:
    """Stop someone posting in a community, for good or until `expires_at`; federated as Block."""
    reason = clean_reason(reason)
    now = utcnow()
    if received is None:
        await require_moderator(session, moderator, community)
        if person.id == moderator.id:
            raise DomainError(_("You can't ban yourself."))
        if person.kind != PERSON:
            raise DomainError(_("Only a person can be banned from a community."))
        if await role_in(session, person, community) in MOD_ROLES:
            raise DomainError(f"{person.handle} is a moderator here. Dismiss them first.")
        if expires_at is not None and expires_at <= now:
            raise DomainError(_("The ban would end before it starts. Please choose a later date."))
    entry = await session.scalar(select(CommunityBan).where(CommunityBan.community_id == community.id,
                                                            CommunityBan.actor_id == person.id))
    if entry is None:
        entry = CommunityBan(community_id=community.id, actor_id=person.id, created_at=now)
        session.add(entry)
    entry.reason = reason
    entry.expires_at = expires_at
    entry.created_by_id = moderator.id
    await session.flush()
    await _log(session, moderator, community, "ban", target_actor_id=person.id, reason=reason, expires_at=expires_at)
    if remove_data:
        removed = await _remove_posts_of(session, community, person)
        if removed:
            await _log(session, moderator, community, "remove_all", target_actor_id=person.id,
                       reason=f"{removed} post{'s' if removed != 1 else ''} removed with the ban")
    group = await _group(session, community)
    if received is not None:
        entry.ap_id = received.get("id") if isinstance(received.get("id"), str) else None
        if group.local:
            await outbox.pass_on(session, settings, group, received)
    elif group.local:
        doc = outbox.block(settings, group, person, reason, expires=expires_at, remove_data=remove_data)
        entry.ap_id = doc["id"]
        await outbox.send(session, settings, group, doc, direct=[person])
    await session.flush()
    return entry


async def _remove_posts_of(session: AsyncSession, community: Community, person: Actor) -> int:
    posts = list(await session.scalars(select(Post).where(Post.community_id == community.actor_id,
                                                          Post.author_id == person.id,
                                                          Post.state.in_((PUBLISHED, HELD)))))
    for post in posts:
        await posting.set_state(session, post, REMOVED)
        await _close_held(session, post, None, approved=False)
    return len(posts)


async def unban(session: AsyncSession, settings: Settings, moderator: Actor, community: Community, person: Actor,
                reason: str = "", *, received: dict[str, Any] | None = None) -> bool:
    """Lift a ban (Undo{Block}); False when there was none."""
    if received is None:
        await require_moderator(session, moderator, community)
    reason = clean_reason(reason)
    entry = await session.scalar(select(CommunityBan).where(CommunityBan.community_id == community.id,
                                                            CommunityBan.actor_id == person.id))
    if entry is None:
        return False
    block_id = entry.ap_id
    await session.delete(entry)
    await session.flush()
    await _log(session, moderator, community, "unban", target_actor_id=person.id, reason=reason)
    group = await _group(session, community)
    if group.local:
        if received is not None:
            await outbox.pass_on(session, settings, group, received)
        else:
            block = outbox.block(settings, group, person, "", expires=None, remove_data=False, ap_id=block_id)
            await outbox.send(session, settings, group, outbox.undo(settings, group, block), direct=[person])
    return True


async def suspend(session: AsyncSession, admin: Actor, actor: Actor, reason: str = "", *, suspended: bool = True) -> ModAction | None:
    """An admin suspends (or reinstates) a remote account on this instance: nothing in, nothing out."""
    if not await is_admin(session, admin):
        raise NotAllowed("Only an admin can suspend an account on this instance.")
    if actor.local:
        raise DomainError(_("Accounts on this instance are managed on the admin pages, not suspended from here."))
    reason = clean_reason(reason)
    if actor.suspended == suspended:
        return None
    actor.suspended = suspended
    await session.flush()
    return await _log(session, admin, None, "suspend" if suspended else "unsuspend", target_actor_id=actor.id,
                      reason=reason)


async def suspended_accounts(session: AsyncSession, limit: int = 200) -> list[Actor]:
    return list(await session.scalars(select(Actor).where(Actor.suspended.is_(True), Actor.local.is_(False))
                                      .order_by(Actor.domain, Actor.username).limit(limit)))


__all__ = [
    "MOD_ROLES", "NotAllowed", "PRIVATE_ACTIONS", "appoint", "ban", "bans_of", "clean_reason", "community_of",
    "decide_held", "dismiss", "is_admin", "lock_thread", "may_moderate", "moderated_community_ids", "moderators_of",
    "pin_thread", "remove_post", "restore_post", "set_slow_mode", "suspend", "unban",
]
