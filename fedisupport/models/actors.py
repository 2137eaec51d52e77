"""Actors (local and remote people, communities, the instance actor), logins and remote hosts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow

PERSON = "person"
GROUP = "group"
APPLICATION = "application"
ACTOR_KINDS = (PERSON, GROUP, APPLICATION)


class Actor(Base):
    """Anything that can act on the network: a person, a community (Group) or an instance actor.

    Local and remote actors share this table so that posts, follows and likes point at one kind
    of thing. Local usernames share one name space across people and communities, because
    Mastodon resolves only `acct:` handles.
    """

    __tablename__ = "actors"
    __table_args__ = (
        # Not unique: Lemmy gives a person and a community the same name on one host. Local
        # names are kept unique by the code that creates them.
        Index("ix_actors_domain_username", "domain", "username"),
        Index("ix_actors_key_id", "key_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str] = mapped_column(String(255))
    # Host (with a non-default port) the actor lives on; our own domain for local actors.
    domain: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(500), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2048))
    icon_url: Mapped[str | None] = mapped_column(String(2048))
    inbox_url: Mapped[str] = mapped_column(String(2048))
    shared_inbox_url: Mapped[str | None] = mapped_column(String(2048))
    outbox_url: Mapped[str | None] = mapped_column(String(2048))
    followers_url: Mapped[str | None] = mapped_column(String(2048))
    key_id: Mapped[str | None] = mapped_column(String(2048))
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    # Only local actors have a private key; it never leaves the database except to sign.
    private_key_pem: Mapped[str | None] = mapped_column(Text)
    manually_approves_followers: Mapped[bool] = mapped_column(Boolean, default=False)
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    following_count: Mapped[int] = mapped_column(Integer, default=0)
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    # Suspended on this instance by an admin (nothing in, nothing out).
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)

    @property
    def handle(self) -> str:
        return f"{self.username}@{self.domain}"

    @property
    def best_inbox(self) -> str:
        return self.shared_inbox_url or self.inbox_url


class User(Base):
    """A login on this instance. Its public face on the network is its actor."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Registration in approval mode leaves this False until an admin approves.
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class Instance(Base):
    """A remote server we talk to: what software it runs and whether it answers."""

    __tablename__ = "instances"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    software: Mapped[str | None] = mapped_column(String(64))
    software_version: Mapped[str | None] = mapped_column(String(64))
    software_checked_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    first_seen_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # Distinct days with failures and no success since; paused after 7, as Mastodon does.
    failure_days: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_until: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class Site(Base):
    """The instance's own settings that admins change at run time (one row, id 1)."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # open | approval | invite | closed
    registration_mode: Mapped[str] = mapped_column(String(16), default="approval")
    contact_email: Mapped[str | None] = mapped_column(String(320))
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # Moderation policy knobs (see fedisupport/policy). 0 turns a limit off.
    new_account_held_posts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    posts_per_hour: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    remote_domain_posts_per_minute: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    spam_mention_limit: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    show_blocked_domains: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
