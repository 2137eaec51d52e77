"""Local actors: people, communities, the instance actor, and the logins behind people."""
from __future__ import annotations

import asyncio
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import urls
from ..i18n import _
from ..activitypub.signatures import generate_keypair
from ..models import APPLICATION, GROUP, PERSON, Actor, Community, Follow, Membership, Site, User
from ..models.social import ACCEPTED, OWNER
from ..settings import Settings
from .errors import Conflict, DomainError, NotFound

USERNAME_RE = re.compile(r"^[a-z0-9_]{1,30}$")
INSTANCE_ACTOR_USERNAME = "instance.actor"
# Names that would confuse people or other servers if someone took them.
RESERVED_NAMES = {"admin", "administrator", "moderator", "moderators", "support", "help", "root", "system", "actor"}
MIN_PASSWORD_LENGTH = 10

# argon2id with the library's defaults (RFC 9106 "second recommended" profile).
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_username(name: str) -> str:
    name = name.strip().lower()
    if not USERNAME_RE.match(name):
        raise DomainError(_("names use 1 to 30 lowercase letters, digits or underscores"))
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(_("passwords need at least %(min)s characters", min=MIN_PASSWORD_LENGTH))


async def local_actor_by_name(session: AsyncSession, settings: Settings, username: str) -> Actor | None:
    return await session.scalar(
        select(Actor).where(Actor.local.is_(True), Actor.domain == settings.domain, Actor.username == username.lower())
    )


async def _new_local_actor(
    session: AsyncSession, settings: Settings, kind: str, username: str, display_name: str, summary: str = "",
    manually_approves_followers: bool = False, reserved_ok: bool = False, keypair: tuple[str, str] | None = None,
) -> Actor:
    if kind != APPLICATION:
        username = check_username(username)
        if username in RESERVED_NAMES and not reserved_ok:
            raise DomainError(_("the name %(name)s is reserved", name=repr(username)))
    if await local_actor_by_name(session, settings, username) is not None:
        raise Conflict(_("the name %(name)s is taken (people and communities share one set of names)", name=repr(username)))
    # Key generation and password hashing take tens to hundreds of milliseconds: off the loop.
    # `keypair`: made beforehand, outside the caller's transaction (domain/pseudonyms.py).
    private_pem, public_pem = keypair or await asyncio.to_thread(generate_keypair)
    ap_id = urls.actor(settings, kind, username)
    base = ap_id
    actor = Actor(
        ap_id=ap_id,
        kind=kind,
        local=True,
        username=username,
        domain=settings.domain,
        display_name=display_name,
        summary=summary,
        url=ap_id,
        inbox_url=base + "/inbox",
        shared_inbox_url=urls.shared_inbox(settings),
        outbox_url=base + "/outbox",
        followers_url=base + "/followers",
        key_id=urls.key_id(ap_id),
        public_key_pem=public_pem,
        private_key_pem=private_pem,
        manually_approves_followers=manually_approves_followers,
    )
    session.add(actor)
    await session.flush()
    return actor


async def ensure_instance_actor(session: AsyncSession, settings: Settings) -> Actor:
    """The Application actor that signs our fetches and reports; made once, keys kept forever."""
    actor = await local_actor_by_name(session, settings, INSTANCE_ACTOR_USERNAME)
    if actor is None:
        actor = await _new_local_actor(session, settings, APPLICATION, INSTANCE_ACTOR_USERNAME, settings.domain)
        actor.manually_approves_followers = True
    return actor


async def ensure_site(session: AsyncSession, name: str, registration_mode: str = "approval") -> Site:
    site = await session.get(Site, 1)
    if site is None:
        site = Site(id=1, name=name, registration_mode=registration_mode)
        session.add(site)
        await session.flush()
    return site


async def create_user(
    session: AsyncSession, settings: Settings, username: str, password: str, *, email: str | None = None,
    is_admin: bool = False, display_name: str | None = None, approved: bool = True,
) -> User:
    check_password(password)
    email = email.strip().lower() if email else None
    if email and await session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(_("an account with that email address exists already"))
    actor = await _new_local_actor(session, settings, PERSON, username, display_name or username, reserved_ok=is_admin)
    password_hash = await asyncio.to_thread(hash_password, password)
    user = User(actor_id=actor.id, email=email, password_hash=password_hash, is_admin=is_admin, approved=approved)
    session.add(user)
    await session.flush()
    return user


async def create_community(
    session: AsyncSession, settings: Settings, name: str, title: str, *, description: str = "",
    languages: str = "", requires_approval: bool = False, owner: Actor | None = None,
) -> Community:
    title = title.strip()
    if not title:
        raise DomainError(_("a community needs a title"))
    actor = await _new_local_actor(
        session, settings, GROUP, name, title, summary=description, manually_approves_followers=requires_approval
    )
    community = Community(
        actor_id=actor.id, local=True, name=actor.username, title=title, description=description,
        languages=languages, requires_approval=requires_approval,
    )
    session.add(community)
    await session.flush()
    if owner is not None:
        session.add(Membership(community_id=community.id, actor_id=owner.id, role=OWNER))
        await session.flush()
    return community


async def community_by_name(session: AsyncSession, name: str) -> Community | None:
    """A community by its name here: `hope` for ours, `hope@other.example` for a remote one."""
    name = name.lower()
    return await session.scalar(select(Community).where(Community.name == name, Community.local.is_("@" not in name)))


async def make_moderator(session: AsyncSession, settings: Settings, community_name: str, username: str) -> Membership:
    """Appoint by names, as the site's operator: logged in the modlog and federated like any appointment."""
    from .moderation import appoint_by_operator  # moderation builds on this module

    community = await community_by_name(session, community_name)
    if community is None:
        raise NotFound(_("no community named %(name)s", name=repr(community_name)))
    actor = await local_actor_by_name(session, settings, username)
    if actor is None or actor.kind != PERSON:
        raise NotFound(_("no person named %(name)s on this instance", name=repr(username)))
    return await appoint_by_operator(session, settings, community, actor)


async def list_communities(session: AsyncSession, local_only: bool = True) -> list[Community]:
    """Communities to list publicly; small groups never are (docs/small-groups.md)."""
    query = (select(Community).where(Community.members_only.is_(False))
             .order_by(Community.member_count.desc(), Community.name))
    if local_only:
        query = query.where(Community.local.is_(True))
    return list(await session.scalars(query))


async def joined_remote_communities(session: AsyncSession) -> list[Community]:
    """Communities on other servers that someone here has joined, busiest first."""
    member = (select(Follow.id).join(Actor, Actor.id == Follow.follower_id)
              .where(Follow.target_id == Community.actor_id, Follow.state == ACCEPTED, Actor.local.is_(True)).exists())
    # Approval-only groups (another server's small groups, private communities) are not advertised.
    private = select(Actor.id).where(Actor.id == Community.actor_id, Actor.manually_approves_followers.is_(True)).exists()
    return list(await session.scalars(select(Community).where(Community.local.is_(False), member, ~private)
                                      .order_by(Community.thread_count.desc(), Community.name).limit(50)))


async def count_local_users(session: AsyncSession) -> int:
    return await session.scalar(select(func.count(User.id))) or 0


async def get_site(session: AsyncSession) -> Site | None:
    """The site row for display; None before `fedisupport init` ran (pages still render)."""
    return await session.get(Site, 1)


async def awaiting_approval(session: AsyncSession, actor: Actor) -> bool:
    """A person whose sign-up an admin has not approved yet: not public until then."""
    if actor.kind != PERSON or not actor.local:
        return False
    return await session.scalar(select(User.approved).where(User.actor_id == actor.id)) is False
