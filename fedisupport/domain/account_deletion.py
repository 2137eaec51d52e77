"""A person deletes their own account: the login goes, and every server that knew them is told."""
from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.jsonld import AS_PUBLIC
from ..models import Actor, Community, Follow, OutboxActivity, User, utcnow
from ..models.social import ACCEPTED, PENDING
from ..outbox.publish import activity, inboxes_of, publish
from ..settings import Settings
from .errors import DomainError


class LastAdmin(DomainError):
    """The only admin cannot leave: nobody would be left to approve sign-ups or run the site."""


async def remote_audience(session: AsyncSession, actor: Actor) -> list[Actor]:
    """Remote actors that know this person: their followers, and the remote actors they follow.

    A follow still pending counts too: the other server has already received the Follow and may
    keep a copy of the person.
    """
    followers = await session.scalars(
        select(Actor).join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.target_id == actor.id, Follow.state == ACCEPTED, Actor.local.is_(False))
    )
    followed = await session.scalars(
        select(Actor).join(Follow, Follow.target_id == Actor.id)
        .where(Follow.follower_id == actor.id, Follow.state.in_((ACCEPTED, PENDING)), Actor.local.is_(False))
    )
    return [*followers, *followed]


async def _drop_follows(session: AsyncSession, actor: Actor) -> None:
    """Remove the person's follows both ways, so member and follower counts stop including them."""
    follows = list(await session.scalars(
        select(Follow).where((Follow.follower_id == actor.id) | (Follow.target_id == actor.id))
    ))
    for follow in follows:
        if follow.state == ACCEPTED:
            await session.execute(update(Actor).where(Actor.id == follow.target_id)
                                  .values(follower_count=Actor.follower_count - 1))
            await session.execute(update(Actor).where(Actor.id == follow.follower_id)
                                  .values(following_count=Actor.following_count - 1))
            await session.execute(update(Community).where(Community.actor_id == follow.target_id)
                                  .values(member_count=Community.member_count - 1))
        await session.delete(follow)


async def delete_account(session: AsyncSession, settings: Settings, user: User) -> OutboxActivity:
    """Delete a local person's account in the caller's transaction; returns the queued Delete.

    The actor row stays, marked deleted, so its URL answers 410 with a Tombstone and its name is
    never handed to someone else (other servers would mistake the newcomer for this person). Its
    private key stays too: the Delete is signed at send time, and peers check that signature
    against the key they cached, so the key must outlive the deliveries; housekeeping.py clears it
    a week later.
    """
    actor = await session.get(Actor, user.actor_id)
    if actor is None or actor.deleted_at is not None:
        raise DomainError("this account has already been deleted")
    if user.is_admin:
        admins = await session.scalar(select(func.count(User.id)).where(User.is_admin.is_(True)))
        if admins <= 1:
            raise LastAdmin("the only admin cannot delete their account")

    # Who to tell is read before the follows are removed below.
    inboxes = inboxes_of(await remote_audience(session, actor))
    doc = activity(settings, "Delete", actor, actor.ap_id, to=[AS_PUBLIC])
    stored = await publish(session, settings, actor, doc, inboxes)

    await _drop_follows(session, actor)
    actor.deleted_at = utcnow()
    actor.display_name = ""
    actor.summary = ""
    actor.icon_url = None
    # The login itself; its web sessions go with it (ON DELETE CASCADE).
    await session.execute(delete(User).where(User.id == user.id))
    await session.flush()
    return stored
