"""Threads, replies, likes and the tombstones of deleted objects."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow

PUBLISHED = "published"
HELD = "held"
REMOVED = "removed"
DELETED = "deleted"

PUBLIC = "public"
UNLISTED = "unlisted"
MEMBERS = "members"


class Post(Base):
    """A thread's opening post or a reply. A thread is the post whose thread_id is its own id."""

    __tablename__ = "posts"
    __table_args__ = (
        # Keyset pagination of a thread in reading order.
        Index("ix_posts_thread_published", "thread_id", "published_at", "id"),
        # A community's threads by latest activity.
        Index("ix_posts_community_threads", "community_id", "is_thread", "last_activity_at", "id"),
        # The same, filtered by language (?lang=es on a community page).
        Index("ix_posts_community_language", "community_id", "is_thread", "language", "last_activity_at", "id"),
        Index("ix_posts_parent_published", "parent_id", "published_at", "id"),
        Index("ix_posts_author", "author_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    # The community's Group actor (local or remote); NULL for posts outside any community.
    community_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    is_thread: Mapped[bool] = mapped_column(Boolean, default=False)
    # The remote inReplyTo while the parent is not known yet.
    in_reply_to_ap_id: Mapped[str | None] = mapped_column(String(2048))
    context_ap_id: Mapped[str | None] = mapped_column(String(2048))
    url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(Text)  # Markdown as written, local posts only
    content_html: Mapped[str] = mapped_column(Text, default="")  # always sanitised
    language: Mapped[str | None] = mapped_column(String(16))
    content_warning: Mapped[str | None] = mapped_column(String(2000))
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    visibility: Mapped[str] = mapped_column(String(16), default=PUBLIC)
    state: Mapped[str] = mapped_column(String(16), default=PUBLISHED)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Slow mode on a thread: seconds a person waits between two replies in it (0: off).
    slow_mode_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)  # direct replies
    thread_reply_count: Mapped[int] = mapped_column(Integer, default=0)  # all replies, on threads
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    last_activity_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # When our community passed this remote post's Create on (FEP-1b12). A post first stored
    # because a reply needed its parent has none yet: its own Create, arriving later, is announced.
    announced_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class Like(Base):
    """Support shown for a post ("I hear you"); from anywhere, counted once per actor."""

    __tablename__ = "likes"
    __table_args__ = (UniqueConstraint("post_id", "actor_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    ap_id: Mapped[str | None] = mapped_column(String(2048), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class Tombstone(Base):
    """An object that was deleted; a late Create for it must not bring it back."""

    __tablename__ = "tombstones"

    ap_id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    former_type: Mapped[str | None] = mapped_column(String(32))
    deleted_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
