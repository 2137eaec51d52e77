"""Getting back into an account: a one-time link an admin makes and hands over privately.

No email is needed (many small sites have none set up): the admin sends the link however they
reach the person. The link works once, for a day; only its hash is stored. Using it ends every
session of the account, so whoever else had a way in loses it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..i18n import _
from ..models import Actor, User, utcnow
from ..models.auth import PasswordReset, WebSession
from ..settings import Settings
from .accounts import local_actor_by_name
from .errors import DomainError, NotFound

LIFETIME = dt.timedelta(hours=24)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def make_link(session: AsyncSession, settings: Settings, username: str, *, by: User | None = None) -> str:
    """A fresh link for this person; any earlier unused link of theirs stops working."""
    actor = await local_actor_by_name(session, settings, username)
    user = await session.scalar(select(User).where(User.actor_id == actor.id)) if actor is not None else None
    if user is None or actor.deleted_at is not None:
        raise NotFound(_("There is no account named %(name)s here.", name=username.strip()))
    if actor.suspended:
        raise DomainError(_("%(name)s's account is suspended, so it cannot be opened with a link.", name=actor.username))
    await session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(PasswordReset(token_hash=_hash(token), user_id=user.id, created_by_id=by.id if by else None,
                              created_at=now, expires_at=now + LIFETIME))
    await session.flush()
    return settings.url(f"/reset/{token}")


async def user_for(session: AsyncSession, token: str) -> User | None:
    """Whose link this is, if it is still good (unused, unexpired, the account still active)."""
    if not token or len(token) > 128:
        return None
    reset = await session.get(PasswordReset, _hash(token))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    user = await session.get(User, reset.user_id)
    actor = await session.get(Actor, user.actor_id) if user is not None else None
    if actor is None or actor.deleted_at is not None or actor.suspended:
        return None
    return user


async def use(session: AsyncSession, token: str, new_password_hash: str) -> User:
    """Set the new password, spend the link and end every session of the account."""
    user = await user_for(session, token)
    if user is None:
        raise NotFound(_("This link has already been used or has expired."))
    (await session.get(PasswordReset, _hash(token))).used_at = utcnow()
    user.password_hash = new_password_hash
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    await session.flush()
    return user
