"""The two durable queues: activities received and deliveries to send."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow

# Inbox item states
QUEUED = "queued"
DONE = "done"
IGNORED = "ignored"
REJECTED = "rejected"
ERRORED = "errored"

# How long a worker holds a claimed row; past it another worker may take the row again.
LEASE = dt.timedelta(minutes=5)

# Delivery states
SENT = "sent"
FAILED = "failed"  # permanent answer (400/403/404/410): not retried
GIVEN_UP = "given_up"  # retried for about three days


class InboxItem(Base):
    """A received activity, stored before we answer 202 and processed by a worker."""

    __tablename__ = "inbox_items"
    __table_args__ = (Index("ix_inbox_items_claim", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The activity's id (or a hash of the body when it has none): a repeat is a no-op.
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    actor_ap_id: Mapped[str] = mapped_column(String(2048))
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # The local actor whose inbox received it; NULL for the shared inbox.
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class OutboxActivity(Base):
    """An activity we published, served at its id so peers can dereference it."""

    __tablename__ = "outbox_activities"
    __table_args__ = (Index("ix_outbox_activities_actor_created", "actor_id", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(2048), unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class Delivery(Base):
    """One activity to one inbox; shared inboxes are collapsed before rows are written."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("activity_id", "inbox_url"),
        Index("ix_deliveries_claim", "state", "next_attempt_at"),
        Index("ix_deliveries_host_state", "host", "state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("outbox_activities.id", ondelete="CASCADE"))
    inbox_url: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class FetchRequest(Base):
    """Something to fetch from other servers later, e.g. the replies of a remote thread."""

    __tablename__ = "fetch_requests"
    __table_args__ = (
        UniqueConstraint("purpose", "url"),
        Index("ix_fetch_requests_claim", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # backfill: walk a remote thread's context/replies collections for posts we lack
    purpose: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    result: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
