"""Logins in progress (web sessions), the invite codes that let people sign up, and password reset links."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow


class WebSession(Base):
    """One browser signed in as one user.

    The id is the SHA-256 (hex) of the random token in the cookie, never the token itself: a
    copy of this table (a backup, a leaked dump) cannot be turned back into working cookies.
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Every form a signed-in person posts carries this; it never changes during the session.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # Slides forward while the session is used; past it the row is dead and gets removed.
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)


class Invite(Base):
    """A code an admin hands out so someone can sign up while registration is invite-only."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    # Kept when the admin's account goes, so the code and its history stay readable.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    # None: the code never expires (it still runs out after max_uses).
    expires_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class PasswordReset(Base):
    """A one-time link an admin makes for someone locked out of their account.

    Like sessions, only the SHA-256 of the link's token is stored: the table alone opens nothing.
    """

    __tablename__ = "password_resets"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    used_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
