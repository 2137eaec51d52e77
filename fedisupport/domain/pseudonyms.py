"""Pseudonyms: writing in a community under another name, as a separate person on the network.

Someone on their worst day may only be able to speak if nobody who knows them can tell it is
them. In a community that allows it (`Community.allow_pseudonyms`), a member can post under a
pseudonym: a local Person actor of its own, with its own keys, a generated name such as
`quiet_heron_42`, a display name they choose (or one we make up) and no bio. The network sees an
ordinary person: it resolves by WebFinger, serves an actor document, signs its own Creates, and
its posts federate like anyone's. A person has at most one pseudonym per community, reused for
every later post there.

The link to the real account is one row in `pseudonyms`. What may read it:

- the person themself (their compose forms, their own posts' edit and delete links, their data
  export);
- the community's moderators and the instance's admins (`links_in`, `owner_for_moderator`);
- the ban check (bans.active_ban): a ban of either face in the community stops both. The ban
  is enforced without a second ban row, Block or modlog entry, so nothing public pairs them.

Nothing else does: no page, JSON document, collection, WebFinger answer, count or error message
depends on it. NodeInfo counts accounts (logins), so a pseudonym, which has none, changes no user
count; a post under it is active use of the pseudonym, not of the account behind it.

Likes stay under the real account (a pseudonym only writes); the person cannot like their own
pseudonymous posts, which would pair the two names in public.

When the account is deleted, the link goes at once (the foreign key sets `user_id` NULL) and
the pseudonym itself is deleted on the network a random one to seven days later
(`retire_orphans`, run by the worker), so the two deletions can't be paired by their timing.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.jsonld import AS_PUBLIC
from ..activitypub.signatures import generate_keypair
from ..models import PERSON, Actor, Community, CommunityBan, Follow, ModAction, Post, Pseudonym, User, utcnow
from ..models.auth import WebSession
from ..models.social import ACCEPTED
from ..outbox.publish import activity, inboxes_of, publish
from ..settings import Settings
from . import accounts
from .bans import in_force
from .errors import DomainError, NotFound
from ..i18n import gettext, lazy_gettext

log = logging.getLogger("fedisupport.pseudonyms")

MAX_DISPLAY_NAME = 50
# After the account behind a pseudonym is deleted, the pseudonym is deleted within this window.
RETIRE_DELAY = (dt.timedelta(days=1), dt.timedelta(days=7))

# Gentle words: the names should sound like nobody in particular.
ADJECTIVES = (
    "quiet", "gentle", "calm", "brave", "kind", "soft", "warm", "steady", "bright", "patient", "hopeful", "tender",
    "still", "golden", "silver", "misty", "sunny", "rainy", "early", "late", "humble", "honest", "curious", "wandering",
    "resting", "growing", "careful", "light", "deep", "clear", "mellow", "cosy", "hardy", "shy", "bold", "small",
)
NOUNS = (
    "heron", "willow", "river", "sparrow", "fern", "otter", "maple", "pebble", "lantern", "meadow", "cedar", "wren",
    "harbor", "moss", "robin", "birch", "cloud", "comet", "badger", "clover", "finch", "hazel", "island", "juniper",
    "kestrel", "lake", "marten", "nettle", "orchard", "plover", "quail", "reed", "swallow", "thistle", "valley", "yarrow",
)


class PseudonymError(DomainError):
    """About posting under a pseudonym; the compose forms show it next to that choice."""


NOT_ALLOWED = lazy_gettext("This community doesn't offer pseudonyms, so this wasn't posted. Your words are still here.")
JOIN_FIRST = lazy_gettext("Pseudonyms here are for members of this community. Please join it first; your words are still "
              "here to post afterwards.")
SUSPENDED = lazy_gettext("Your pseudonym in this community is suspended, so it can't post right now.")
GIVES_YOU_AWAY = lazy_gettext("That's too close to the name people know you by here: as your pseudonym's name it would give "
                  "you away. Please choose another, or leave it empty and we'll make one up.")


# --- names ----------------------------------------------------------------------------------------


def _comparable(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def check_display_name(text: str | None, real: Actor) -> str | None:
    """A chosen display name, tidied; None when left empty. Never the person's own name."""
    name = " ".join((text or "").split())
    if not name:
        return None
    if len(name) > MAX_DISPLAY_NAME:
        raise PseudonymError(gettext("Please keep your pseudonym's name to %(max)s characters or fewer.", max=MAX_DISPLAY_NAME))
    given = _comparable(name)
    for own in {_comparable(real.username), _comparable(real.display_name or "")}:
        # Their own name, or a name with it inside (short names only when exact: "Ann" in "Joanne").
        if own and (given == own or (len(own) >= 4 and own in given)):
            raise PseudonymError(GIVES_YOU_AWAY)
    return name


def display_name_for(username: str) -> str:
    """`quiet_heron_42` → `Quiet Heron`."""
    words = [w for w in username.split("_") if not w.isdigit()]
    return " ".join(w.capitalize() for w in words) or username


async def generate_name(session: AsyncSession, settings: Settings) -> str:
    """A free local name like `quiet_heron_42` (longer numbers if the short ones run out)."""
    for attempt in range(40):
        top = 99 if attempt < 20 else 9999
        name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(NOUNS)}_{10 + secrets.randbelow(top - 9)}"
        if await accounts.local_actor_by_name(session, settings, name) is None:
            return name
    raise DomainError(gettext("We couldn't find a free name for your pseudonym just now. Please try again."))


# --- who is behind what (only for the person themself and for moderators) -------------------------


async def _user_of(session: AsyncSession, real: Actor) -> User | None:
    if not real.local or real.kind != PERSON:
        return None
    return await session.scalar(select(User).where(User.actor_id == real.id))


async def actor_ids_of(session: AsyncSession, real: Actor) -> set[int]:
    """The actors of this person's pseudonyms (everywhere); for marking their own posts to them."""
    return set(await session.scalars(select(Pseudonym.actor_id).join(User, User.id == Pseudonym.user_id)
                                     .where(User.actor_id == real.id)))


async def is_theirs(session: AsyncSession, real: Actor, actor_id: int) -> bool:
    """Whether `actor_id` is one of this person's pseudonyms."""
    found = await session.scalar(select(Pseudonym.id).join(User, User.id == Pseudonym.user_id)
                                 .where(User.actor_id == real.id, Pseudonym.actor_id == actor_id))
    return found is not None


async def author_acting_for(session: AsyncSession, real: Actor, post: Post) -> Actor | None:
    """Who `real` acts as to change this post: themself, their pseudonym that wrote it, or None."""
    if not post.local:
        return None
    if post.author_id == real.id:
        return real
    if await is_theirs(session, real, post.author_id):
        return await session.get(Actor, post.author_id)
    return None


async def _is_member(session: AsyncSession, real: Actor, community: Community) -> bool:
    follow = await session.scalar(select(Follow.id).where(Follow.follower_id == real.id,
                                                          Follow.target_id == community.actor_id,
                                                          Follow.state == ACCEPTED))
    return follow is not None


# --- writing under a pseudonym ----------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What a compose form offers a signed-in person in a community that allows pseudonyms."""

    member: bool  # False: they have to join before they can use one
    current: Actor | None  # their pseudonym here, once they have one


async def choice_for(session: AsyncSession, viewer: Actor | None, community: Community | None) -> Choice | None:
    """None when there is nothing to offer (not signed in, no community, pseudonyms not allowed)."""
    if viewer is None or community is None or not community.local or not community.allow_pseudonyms:
        return None
    user = await _user_of(session, viewer)
    if user is None:
        return None
    row = await session.scalar(select(Pseudonym).where(Pseudonym.user_id == user.id,
                                                       Pseudonym.community_id == community.id))
    current = await session.get(Actor, row.actor_id) if row is not None else None
    return Choice(member=await _is_member(session, viewer, community), current=current)


async def keys_if_new(sessions, real: Actor, *, community_name: str | None = None,
                      post_id: int | None = None) -> tuple[str, str] | None:
    """Before the writing transaction: a key pair when `real` has no pseudonym yet where they write.

    Making a key takes tens of milliseconds, and `writer_for` makes the pseudonym holding a write
    lock (on SQLite, the whole database's): made here, before the transaction, nobody waits on it.
    `community_name` for a new thread, `post_id` for a reply to that post.
    """
    async with sessions() as session:
        if community_name is not None:
            group_id = await session.scalar(select(Community.actor_id).where(Community.name == community_name.lower(),
                                                                             Community.local.is_(True)))
        else:
            group_id = await session.scalar(select(Post.community_id).where(Post.id == post_id))
        allowed = group_id is not None and await session.scalar(
            select(Community.allow_pseudonyms).where(Community.actor_id == group_id, Community.local.is_(True)))
        if not allowed:
            return None  # writer_for will say why
        has = await session.scalar(
            select(Pseudonym.id).join(User, User.id == Pseudonym.user_id)
            .join(Community, Community.id == Pseudonym.community_id)
            .where(User.actor_id == real.id, Community.actor_id == group_id))
    return None if has is not None else await asyncio.to_thread(generate_keypair)


async def writer_for(session: AsyncSession, settings: Settings, real: Actor, community: Community, *,
                     display_name: str | None = None, keys: tuple[str, str] | None = None) -> Actor:
    """The pseudonym `real` writes under in `community`: theirs already, or made now.

    `display_name` is used only when the pseudonym is made; empty, one is made from its name.
    `keys`: from `keys_if_new`, for when it is made.
    """
    if not community.local or not community.allow_pseudonyms:
        raise PseudonymError(NOT_ALLOWED)
    user = await _user_of(session, real)
    if user is None:
        raise PseudonymError(NOT_ALLOWED)
    if not await _is_member(session, real, community):
        raise PseudonymError(JOIN_FIRST)
    existing = await _pseudonym_actor(session, user, community)
    if existing is not None:
        return existing
    chosen = check_display_name(display_name, real)
    # A write first: it takes the person's row (PostgreSQL) or the database's write lock (SQLite),
    # so two first posts sent at once make one pseudonym; the second finds it on the re-check.
    await session.execute(update(User).where(User.id == user.id).values(approved=User.approved))
    existing = await _pseudonym_actor(session, user, community)
    if existing is not None:
        return existing
    username = await generate_name(session, settings)
    actor = await accounts._new_local_actor(session, settings, PERSON, username, chosen or display_name_for(username),
                                            keypair=keys)
    session.add(Pseudonym(actor_id=actor.id, user_id=user.id, community_id=community.id, created_at=utcnow()))
    await session.flush()
    log.info("pseudonym %s made in community %s", actor.id, community.id)
    return actor


async def _pseudonym_actor(session: AsyncSession, user: User, community: Community) -> Actor | None:
    row = await session.scalar(select(Pseudonym).where(Pseudonym.user_id == user.id,
                                                       Pseudonym.community_id == community.id))
    if row is None:
        return None
    actor = await session.get(Actor, row.actor_id)
    if actor.suspended:
        raise PseudonymError(SUSPENDED)
    return actor


async def writer_for_reply(session: AsyncSession, settings: Settings, real: Actor, parent: Post, *,
                           display_name: str | None = None, keys: tuple[str, str] | None = None) -> Actor:
    """The pseudonym for replying to `parent`, in the community its thread belongs to."""
    thread = parent if parent.is_thread or parent.thread_id in (None, parent.id) else await session.get(Post, parent.thread_id)
    community = None
    if thread is not None and thread.community_id is not None:
        community = await session.scalar(select(Community).where(Community.actor_id == thread.community_id))
    if community is None:
        raise PseudonymError(NOT_ALLOWED)
    return await writer_for(session, settings, real, community, display_name=display_name, keys=keys)


# --- what moderators and admins see -------------------------------------------------------------


@dataclass
class Link:
    pseudonym: Actor
    owner: Actor | None  # None once the person deleted their account (the pseudonym is retiring)
    created_at: dt.datetime
    banned: bool  # the pseudonym or the account behind it is banned here (the ban stops both)


async def _require_moderator(session: AsyncSession, viewer: Actor | None, community: Community) -> None:
    from . import moderation  # moderation imports bans, which imports pseudonym_links; keep this lazy

    if not await moderation.may_moderate(session, viewer, community):
        raise moderation.NotAllowed("Only this community's moderators and the site's admins can see this.")


async def links_in(session: AsyncSession, viewer: Actor | None, community: Community) -> list[Link]:
    """Every pseudonym in the community and who is behind it, newest first. Moderators and admins only."""
    await _require_moderator(session, viewer, community)
    rows = (await session.execute(
        select(Pseudonym, Actor).join(Actor, Actor.id == Pseudonym.actor_id)
        .where(Pseudonym.community_id == community.id)
        .order_by(Pseudonym.created_at.desc(), Pseudonym.id.desc()))).all()
    owners = {}
    user_ids = {p.user_id for p, _ in rows if p.user_id is not None}
    if user_ids:
        owners = {uid: actor for uid, actor in (await session.execute(
            select(User.id, Actor).join(Actor, Actor.id == User.actor_id).where(User.id.in_(user_ids)))).all()}
    banned = set(await session.scalars(select(CommunityBan.actor_id).where(CommunityBan.community_id == community.id,
                                                                          in_force())))
    links = []
    for row, actor in rows:
        owner = owners.get(row.user_id)
        links.append(Link(pseudonym=actor, owner=owner, created_at=row.created_at,
                          banned=actor.id in banned or (owner is not None and owner.id in banned)))
    return links


async def owner_for_moderator(session: AsyncSession, viewer: Actor | None, author: Actor,
                              community: Community | None) -> Actor | None:
    """The account behind `author` when it is a pseudonym and `viewer` moderates the community."""
    if community is None or not author.local:
        return None
    from . import moderation

    if not await moderation.may_moderate(session, viewer, community):
        return None
    return await session.scalar(select(Actor).join(User, User.actor_id == Actor.id)
                                .join(Pseudonym, Pseudonym.user_id == User.id)
                                .where(Pseudonym.actor_id == author.id, Pseudonym.community_id == community.id))


async def suspend(session: AsyncSession, admin: Actor, community: Community, pseudonym: Actor, *,
                  owner_too: bool = False, reason: str = "", suspended: bool = True) -> None:
    """An admin suspends (or reinstates) a pseudonym here, and when they choose, the account behind it.

    The pseudonym's suspension is in the public modlog like any other. The account's is logged
    as `suspend_owner`, which the public modlog leaves out (moderation.PRIVATE_ACTIONS): two
    entries side by side would tell everyone the two are one person.
    """
    from . import moderation

    if not await moderation.is_admin(session, admin):
        raise moderation.NotAllowed("Only an admin can suspend an account on this instance.")
    row = await session.scalar(select(Pseudonym).where(Pseudonym.actor_id == pseudonym.id,
                                                       Pseudonym.community_id == community.id))
    if row is None:
        raise NotFound("That isn't a pseudonym in this community.")
    reason = moderation.clean_reason(reason)
    now = utcnow()
    if pseudonym.suspended != suspended:
        pseudonym.suspended = suspended
        session.add(ModAction(moderator_id=admin.id, community_id=None, action="suspend" if suspended else "unsuspend",
                              target_actor_id=pseudonym.id, reason=reason, created_at=now))
    if owner_too and row.user_id is not None:
        user = await session.get(User, row.user_id)
        owner = await session.get(Actor, user.actor_id)
        if owner.id == admin.id:
            raise DomainError(gettext("You can't suspend your own account."))
        if owner.suspended != suspended:
            owner.suspended = suspended
            session.add(ModAction(moderator_id=admin.id, community_id=None,
                                  action="suspend_owner" if suspended else "unsuspend_owner",
                                  target_actor_id=owner.id, reason=reason, created_at=now))
            if suspended:  # signed out everywhere at once
                await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    await session.flush()


# --- the person's own data ------------------------------------------------------------------------


async def of_user(session: AsyncSession, user_id: int) -> list[tuple[Pseudonym, Actor, Community]]:
    """A person's pseudonyms with their actors and communities, oldest first (for their export)."""
    rows = await session.execute(
        select(Pseudonym, Actor, Community).join(Actor, Actor.id == Pseudonym.actor_id)
        .join(Community, Community.id == Pseudonym.community_id)
        .where(Pseudonym.user_id == user_id).order_by(Pseudonym.created_at, Pseudonym.id))
    return [(p, a, c) for p, a, c in rows.all()]


# --- when the person behind a pseudonym has left -------------------------------------------------------


async def retire(session: AsyncSession, settings: Settings, row: Pseudonym) -> None:
    """Delete a pseudonym whose person left: as their own account was, told to whoever knew it."""
    from .account_deletion import _drop_follows, remote_audience

    actor = await session.get(Actor, row.actor_id)
    if actor is not None and actor.deleted_at is None:
        inboxes = inboxes_of(await remote_audience(session, actor))
        await publish(session, settings, actor, activity(settings, "Delete", actor, actor.ap_id, to=[AS_PUBLIC]),
                      inboxes)
        await _drop_follows(session, actor)
        actor.deleted_at = utcnow()
        actor.display_name = ""
        actor.summary = ""
        actor.icon_url = None
    await session.delete(row)
    await session.flush()


async def retire_orphans(services, limit: int = 50) -> int:
    """The worker's pass: schedule pseudonyms whose account is gone, and delete those that are due."""
    from .. import db

    now = utcnow()
    retired = 0
    async with db.transaction(services.sessions) as session:
        fresh = list(await session.scalars(select(Pseudonym).where(Pseudonym.user_id.is_(None),
                                                                   Pseudonym.retire_after.is_(None)).limit(limit)))
        low, high = RETIRE_DELAY
        for row in fresh:
            row.retire_after = now + low + (high - low) * random.random()
    async with db.transaction(services.sessions) as session:
        query = (select(Pseudonym).where(Pseudonym.user_id.is_(None), Pseudonym.retire_after <= now)
                 .order_by(Pseudonym.retire_after).limit(limit))
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for row in list(await session.scalars(query)):
            await retire(session, services.settings, row)
            retired += 1
    if retired:
        services.work_available.set()
    return retired


__all__ = [
    "Choice", "Link", "PseudonymError", "actor_ids_of", "author_acting_for", "check_display_name", "choice_for",
    "generate_name", "is_theirs", "keys_if_new", "links_in", "of_user", "owner_for_moderator", "retire", "retire_orphans", "suspend",
    "writer_for", "writer_for_reply",
]
