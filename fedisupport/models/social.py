"""Communities, who follows whom, and who looks after a community."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow

PENDING = "pending"
ACCEPTED = "accepted"
REJECTED = "rejected"

OWNER = "owner"
MODERATOR = "moderator"
MEMBER = "member"


class Community(Base):
    """What a Group actor means locally. Remote communities have a row too, once followed."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    # Space-separated BCP 47 tags, e.g. "en es".
    languages: Mapped[str] = mapped_column(String(200), default="")
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_pseudonyms: Mapped[bool] = mapped_column(Boolean, default=False)
    # Any signed-in member may add a translation of an opening post (off: authors and moderators only).
    volunteer_translations: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    # "all": Announce every activity to every follower; "threads": microblog followers get new
    # threads only (forum followers still get everything).
    microblog_distribution: Mapped[str] = mapped_column(String(16), default="threads")
    thread_count: Mapped[int] = mapped_column(Integer, default=0)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # A small group (docs/small-groups.md): approved members only, and its threads are members-only.
    # Its page lists members to members, and it is left out of every public list of communities.
    members_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # Where a small group started: the thread it grew out of and that thread's community. Local only;
    # never federated or shown to non-members (the link could say who found whom).
    parent_thread_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    parent_community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="SET NULL"))


class Membership(Base):
    """A person's standing in a community: member, moderator or owner; bans live in moderation."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("community_id", "actor_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default=MEMBER)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class Follow(Base):
    """A Follow between two actors, either side local or remote, with its federation state."""

    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("follower_id", "target_id"),
        Index("ix_follows_target_state", "target_id", "state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    follower_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    # The Follow activity's id, needed to Accept/Reject/Undo it.
    ap_id: Mapped[str | None] = mapped_column(String(2048), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
