"""Who may sign up, and how: registration modes, invite codes and admin approval of accounts."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..i18n import _
from ..models import Actor, Site, User, utcnow
from ..models.auth import Invite
from ..settings import Settings
from . import accounts
from .errors import DomainError

OPEN = "open"  # anyone can sign up and start at once
APPROVAL = "approval"  # anyone can ask; an admin approves each account before it can log in
INVITE = "invite"  # only with a valid invite code
CLOSED = "closed"  # nobody new
REGISTRATION_MODES = (OPEN, APPROVAL, INVITE, CLOSED)

MAX_INVITE_USES = 100


class RegistrationClosed(DomainError):
    pass


class InvalidInvite(DomainError):
    """The code is unknown, used up or expired; the person is told the same in every case."""


async def registration_mode(session: AsyncSession) -> str:
    site = await session.get(Site, 1)
    # Before `fedisupport init` there is no site row and no admin to approve anyone.
    return site.registration_mode if site is not None and site.registration_mode in REGISTRATION_MODES else CLOSED


async def set_registration_mode(session: AsyncSession, mode: str) -> None:
    if mode not in REGISTRATION_MODES:
        raise DomainError(_("registration mode must be one of %(modes)s", modes=', '.join(REGISTRATION_MODES)))
    site = await session.get(Site, 1)
    if site is None:
        raise DomainError(_("the site is not set up yet: run `fedisupport init`"))
    site.registration_mode = mode
    await session.flush()


async def sign_up(session: AsyncSession, settings: Settings, username: str, password: str, *,
                  invite_code: str | None = None) -> User:
    """Create an account as the site's registration mode allows, in the caller's transaction.

    Open: approved at once. Approval: created unapproved, so it cannot log in yet. Invite: the
    code is used up in this same transaction, so a name that turns out to be taken costs no use.
    """
    mode = await registration_mode(session)
    if mode == CLOSED:
        raise RegistrationClosed(_("sign-ups are closed"))
    if mode == INVITE:
        await redeem_invite(session, invite_code or "")
    return await accounts.create_user(session, settings, username, password, approved=mode != APPROVAL)


# --- invites -----------------------------------------------------------------------------------


def new_invite_code() -> str:
    # 12 URL-safe characters (72 bits): short enough to read out, far too many to guess.
    return secrets.token_urlsafe(9)


async def create_invite(session: AsyncSession, created_by: User | None, *, max_uses: int = 1,
                        expires_in: dt.timedelta | None = None) -> Invite:
    if not 1 <= max_uses <= MAX_INVITE_USES:
        raise DomainError(_("an invite can be used 1 to %(max)s times", max=MAX_INVITE_USES))
    invite = Invite(code=new_invite_code(), created_by_id=created_by.id if created_by else None, max_uses=max_uses,
                    uses=0, expires_at=utcnow() + expires_in if expires_in else None)
    session.add(invite)
    await session.flush()
    return invite


def _usable(now: dt.datetime):
    return (Invite.uses < Invite.max_uses) & or_(Invite.expires_at.is_(None), Invite.expires_at > now)


async def redeem_invite(session: AsyncSession, code: str) -> None:
    """Count one use of the code, or raise InvalidInvite.

    One conditional UPDATE, so two people signing up at once with the last use of a code cannot
    both get it: the database decides who was first.
    """
    code = code.strip()
    if not code or len(code) > 64:
        raise InvalidInvite("that invite code isn't valid")
    result = await session.execute(
        update(Invite).where(Invite.code == code, _usable(utcnow())).values(uses=Invite.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidInvite("that invite code isn't valid")


async def usable_invites(session: AsyncSession) -> list[Invite]:
    return list(await session.scalars(select(Invite).where(_usable(utcnow())).order_by(Invite.created_at.desc())))


# --- approval ----------------------------------------------------------------------------------


async def pending_accounts(session: AsyncSession) -> list[tuple[User, Actor]]:
    rows = await session.execute(
        select(User, Actor).join(Actor, Actor.id == User.actor_id)
        .where(User.approved.is_(False), Actor.deleted_at.is_(None)).order_by(User.created_at, User.id)
    )
    return [(user, actor) for user, actor in rows.all()]


async def approve_account(session: AsyncSession, user_id: int) -> bool:
    result = await session.execute(update(User).where(User.id == user_id, User.approved.is_(False)).values(approved=True))
    return result.rowcount == 1


async def decline_account(session: AsyncSession, user_id: int) -> bool:
    """Remove an account that was never approved, and its name with it.

    It never logged in, so nothing of it reached other servers and nothing needs a Delete:
    removing the actor row takes the login with it (ON DELETE CASCADE), and frees the name.
    """
    actor_id = await session.scalar(select(User.actor_id).where(User.id == user_id, User.approved.is_(False)))
    if actor_id is None:
        return False
    await session.execute(delete(Actor).where(Actor.id == actor_id))
    return True
