"""Small groups: a members-only community that grows out of a thread (docs/small-groups.md).

A small group is an ordinary local community (a Group actor) with `members_only` set:
membership needs approval (`manuallyApprovesFollowers`), its threads and their replies are
members-only (`Post.visibility == MEMBERS`), and it is never listed publicly. Members are the
accepted followers of its Group, as for any community; the person who starts it is its owner
and first member. Invitations say who may join without waiting for a moderator.
"""
from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import GROUP, PERSON, Actor, Community, Follow, GroupInvitation, Membership, Post, Rule, utcnow
from ..models.content import MEMBERS, PUBLIC, PUBLISHED, UNLISTED
from ..models.pseudonyms import Pseudonym
from ..models.small_groups import ACCEPTED_INVITE, DECLINED, INVITED
from ..models.social import ACCEPTED, OWNER
from ..i18n import _
from ..outbox import activities
from ..outbox.publish import publish
from ..settings import Settings
from . import accounts, following, moderation
from .communities import MAX_DESCRIPTION, MAX_RULE, MAX_RULES, MAX_TITLE
from .errors import DomainError, FieldError, NotFound

# Posts everyone may read; members of a small group (and its moderators) also read MEMBERS.
PUBLIC_VISIBILITY = (PUBLIC, UNLISTED)
MEMBERS_VISIBILITY = (PUBLIC, UNLISTED, MEMBERS)
# A thread's participants offered for invitation: enough for any real conversation, bounded.
MAX_PARTICIPANTS = 200


# --- who may read what ------------------------------------------------------------------------


async def is_member(session: AsyncSession, actor: Actor | None, group_actor_id: int | None) -> bool:
    """An accepted follower of the group's actor (local or remote), not suspended or deleted."""
    if actor is None or group_actor_id is None or actor.suspended or actor.deleted_at is not None:
        return False
    return bool(await session.scalar(select(Follow.id).where(
        Follow.follower_id == actor.id, Follow.target_id == group_actor_id, Follow.state == ACCEPTED)))


async def may_read_members_only(session: AsyncSession, viewer: Actor | None, group_actor_id: int | None) -> bool:
    """Members read a group's members-only posts; so do its moderators (and the instance's admins)."""
    if viewer is None or group_actor_id is None:
        return False
    if await is_member(session, viewer, group_actor_id):
        return True
    community = await session.scalar(select(Community).where(Community.actor_id == group_actor_id))
    return community is not None and await moderation.may_moderate(session, viewer, community)


async def visibilities_for(session: AsyncSession, viewer: Actor | None, group_actor_id: int | None) -> tuple[str, ...]:
    """The post visibilities this viewer may read in this community."""
    if await may_read_members_only(session, viewer, group_actor_id):
        return MEMBERS_VISIBILITY
    return PUBLIC_VISIBILITY


async def may_read_post(session: AsyncSession, viewer: Actor | None, post: Post) -> bool:
    if post.visibility in PUBLIC_VISIBILITY:
        return True
    return post.visibility == MEMBERS and await may_read_members_only(session, viewer, post.community_id)


# --- starting one -----------------------------------------------------------------------------


def handle_for(title: str) -> str:
    """A name for the group's handle: a few letters from its title and a random tail.

    The tail keeps two groups of one title apart and makes the handle hard to guess.
    """
    stem = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:18].strip("_") or "group"
    return f"{stem}_{secrets.token_hex(3)}"


def check_fields(title: str, description: str, rules: list[str]) -> tuple[str, str, list[str]]:
    title = " ".join((title or "").split())
    description = (description or "").strip()
    rules = [r.strip() for r in rules if r and r.strip()]
    if not title:
        raise FieldError("title", _("Please give the group a name."))
    if len(title) > MAX_TITLE:
        raise FieldError("title", _("Please keep the name to %(max)s characters or fewer.", max=MAX_TITLE))
    if len(description) > MAX_DESCRIPTION:
        raise FieldError("description", _("Please keep the description to %(max)s characters or fewer.",
                                          max=MAX_DESCRIPTION))
    if len(rules) > MAX_RULES or any(len(r) > MAX_RULE for r in rules):
        raise FieldError("rules", _("Up to %(rules)s rules, each at most %(max)s characters.",
                                    rules=MAX_RULES, max=MAX_RULE))
    return title, description, rules


async def may_start_from(session: AsyncSession, actor: Actor | None, thread: Post) -> bool:
    """Members of a local community start small groups from its public, published threads."""
    if actor is None or actor.kind != PERSON or not actor.local or actor.suspended:
        return False
    if not thread.is_thread or thread.state != PUBLISHED or thread.visibility not in PUBLIC_VISIBILITY:
        return False
    if await session.scalar(select(Pseudonym.id).where(Pseudonym.actor_id == actor.id)):
        return False  # a pseudonym's group would tie it to whoever then moderates it
    community = await session.scalar(select(Community).where(Community.actor_id == thread.community_id))
    if community is None or not community.local or community.members_only:
        return False
    return await is_member(session, actor, community.actor_id)


async def start(session: AsyncSession, settings: Settings, owner: Actor, thread: Post, *, title: str,
                description: str = "", rules: list[str] | None = None) -> Community:
    """A new small group from a thread; its starter is the owner and first member."""
    title, description, rules = check_fields(title, description, rules or [])
    if not await may_start_from(session, owner, thread):
        raise DomainError(_("Only members of this community can start a smaller group from one of its threads."))
    parent = await session.scalar(select(Community).where(Community.actor_id == thread.community_id))
    for _attempt in range(5):
        name = handle_for(title)
        if await accounts.local_actor_by_name(session, settings, name) is None:
            break
    group = await accounts.create_community(session, settings, name, title, description=description,
                                            languages=parent.languages, requires_approval=True, owner=owner)
    group.members_only = True
    group.parent_thread_id = thread.id
    group.parent_community_id = parent.id
    session.add_all(Rule(community_id=group.id, position=n, text=text) for n, text in enumerate(rules))
    # The owner is a member like any other: an accepted follow of the group.
    group_actor = await session.get(Actor, group.actor_id)
    follow = Follow(follower_id=owner.id, target_id=group_actor.id, state="pending")
    session.add(follow)
    await session.flush()
    await following.accept(session, settings, follow)
    return group


# --- inviting ---------------------------------------------------------------------------------


async def group_of(session: AsyncSession, name: str) -> tuple[Community, Actor]:
    community = await accounts.community_by_name(session, name)
    actor = await session.get(Actor, community.actor_id) if community is not None else None
    if community is None or actor is None or actor.deleted_at is not None or not community.members_only:
        raise NotFound(_("We couldn't find that group."))
    return community, actor


async def participants(session: AsyncSession, community: Community) -> list[Actor]:
    """People who took part in the thread the group grew from, local or remote, oldest first.

    Pseudonyms are left out: an invitation to one would have to reach the person behind it,
    and accepting would join that person's two names in one small room.
    """
    if community.parent_thread_id is None:
        return []
    worn = select(Pseudonym.actor_id)
    rows = await session.execute(
        select(Actor, Post.published_at).join(Post, Post.author_id == Actor.id)
        .where(Post.thread_id == community.parent_thread_id, Post.state == PUBLISHED,
               Post.visibility.in_(PUBLIC_VISIBILITY), Actor.kind == PERSON, Actor.suspended.is_(False),
               Actor.deleted_at.is_(None), Actor.id.not_in(worn))
        .order_by(Post.published_at, Post.id).limit(MAX_PARTICIPANTS * 5))
    seen: dict[int, Actor] = {}
    for actor, _published in rows.all():
        seen.setdefault(actor.id, actor)
    return list(seen.values())[:MAX_PARTICIPANTS]


async def invitable(session: AsyncSession, community: Community) -> list[Actor]:
    """Participants who are not members yet and were not invited before."""
    group_actor_id = community.actor_id
    invited = set(await session.scalars(select(GroupInvitation.invitee_id)
                                        .where(GroupInvitation.community_id == community.id)))
    followers = set(await session.scalars(select(Follow.follower_id).where(Follow.target_id == group_actor_id)))
    return [a for a in await participants(session, community) if a.id not in invited and a.id not in followers]


async def may_invite(session: AsyncSession, actor: Actor | None, community: Community) -> bool:
    """The group's moderators (its owner first of all) invite; so does any admin."""
    return community.members_only and await moderation.may_moderate(session, actor, community)


async def invite(session: AsyncSession, settings: Settings, by: Actor, community: Community,
                 invitee: Actor) -> GroupInvitation:
    """Invite one participant. A remote one gets a direct message with the group's handle and link."""
    if not await may_invite(session, by, community):
        raise moderation.NotAllowed(_("Only the group's moderators can invite people."))
    if invitee.id not in {a.id for a in await invitable(session, community)}:
        raise DomainError(_("You can invite people who took part in the thread and aren't in the group yet."))
    invitation = GroupInvitation(community_id=community.id, invitee_id=invitee.id, invited_by_id=by.id, state=INVITED)
    session.add(invitation)
    await session.flush()
    if not invitee.local:
        group_actor = await session.get(Actor, community.actor_id)
        thread = await session.get(Post, community.parent_thread_id) if community.parent_thread_id else None
        doc = activities.invitation_message(settings, by, invitee, group_actor, community.title,
                                            language=thread.language if thread is not None else None)
        # The personal inbox, never a shared one: the message is for this one person.
        await publish(session, settings, by, doc, [invitee.inbox_url])
    return invitation


async def invitations_for(session: AsyncSession, actor: Actor) -> list[tuple[GroupInvitation, Community, Actor | None]]:
    """A local person's open invitations, newest first, with who sent each."""
    rows = await session.execute(
        select(GroupInvitation, Community).join(Community, Community.id == GroupInvitation.community_id)
        .where(GroupInvitation.invitee_id == actor.id, GroupInvitation.state == INVITED)
        .order_by(GroupInvitation.created_at.desc(), GroupInvitation.id.desc()).limit(100))
    out = []
    for invitation, community in rows.all():
        by = await session.get(Actor, invitation.invited_by_id) if invitation.invited_by_id else None
        out.append((invitation, community, by))
    return out


async def open_invitation(session: AsyncSession, group_actor: Actor, invitee: Actor) -> GroupInvitation | None:
    return await session.scalar(
        select(GroupInvitation).join(Community, Community.id == GroupInvitation.community_id)
        .where(Community.actor_id == group_actor.id, GroupInvitation.invitee_id == invitee.id,
               GroupInvitation.state == INVITED))


async def answer(session: AsyncSession, settings: Settings, me: Actor, invitation_id: int, *, accept: bool) -> Community:
    """A local person accepts (joins at once) or declines an invitation."""
    invitation = await session.get(GroupInvitation, invitation_id)
    if invitation is None or invitation.invitee_id != me.id:
        raise NotFound(_("We couldn't find that invitation."))
    community = await session.get(Community, invitation.community_id)
    if invitation.state != INVITED:
        return community
    group_actor = await session.get(Actor, community.actor_id)
    if accept:
        await following.follow(session, settings, me, group_actor)  # accepted at once: the invitation stands
    else:
        invitation.state = DECLINED
        invitation.decided_at = utcnow()
    await session.flush()
    return community


async def joined_by_invitation(session: AsyncSession, group_actor: Actor, follower: Actor) -> bool:
    """Called when someone asks to join: an open invitation lets them in and is marked accepted."""
    if group_actor.kind != GROUP:
        return False
    invitation = await open_invitation(session, group_actor, follower)
    if invitation is None:
        return False
    invitation.state = ACCEPTED_INVITE
    invitation.decided_at = utcnow()
    return True


# --- reading the group ------------------------------------------------------------------------


async def members_of(session: AsyncSession, community: Community, limit: int = 500) -> list[tuple[Actor, str | None]]:
    """Members (accepted followers) with their role, owners and moderators first."""
    rows = await session.execute(
        select(Actor, Membership.role).join(Follow, Follow.follower_id == Actor.id)
        .outerjoin(Membership, (Membership.actor_id == Actor.id) & (Membership.community_id == community.id))
        .where(Follow.target_id == community.actor_id, Follow.state == ACCEPTED, Actor.deleted_at.is_(None))
        .order_by(Follow.accepted_at, Follow.id).limit(limit))
    members = [(actor, role) for actor, role in rows.all()]
    members.sort(key=lambda m: 0 if m[1] == OWNER else 1 if m[1] else 2)
    return members


async def groups_of(session: AsyncSession, actor: Actor) -> list[Community]:
    """The small groups this person belongs to (for their own pages only)."""
    return list(await session.scalars(
        select(Community).join(Follow, Follow.target_id == Community.actor_id)
        .where(Follow.follower_id == actor.id, Follow.state == ACCEPTED, Community.members_only.is_(True))
        .order_by(Community.title)))
