"""Invitations into small groups (docs/small-groups.md): who asked whom, and the answer."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow

INVITED = "invited"
ACCEPTED_INVITE = "accepted"
DECLINED = "declined"


class GroupInvitation(Base):
    """One person (local or remote) invited into one small group, at most once."""

    __tablename__ = "group_invitations"
    __table_args__ = (
        UniqueConstraint("community_id", "invitee_id"),
        # "Your invitations": a person's open invitations, newest first.
        Index("ix_group_invitations_invitee_state", "invitee_id", "state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    invitee_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default=INVITED)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
