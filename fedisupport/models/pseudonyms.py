"""The link between a pseudonym and the account behind it: the most sensitive row we keep.

A pseudonym is an ordinary local Person actor (its own name, keys, inbox and outbox). Nothing
on that actor points back at the person who writes under it; only this table does, and only a
community's moderators and the instance's admins ever read it (domain/pseudonyms.py). It is
never federated, rendered publicly, nor exported to anyone but the person themself.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow


class Pseudonym(Base):
    """One person's pseudonym in one community (at most one per person and community)."""

    __tablename__ = "pseudonyms"
    __table_args__ = (
        UniqueConstraint("user_id", "community_id"),
        Index("ix_pseudonyms_community_created", "community_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The pseudonym's own Person actor.
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), unique=True)
    # The real account. NULL once that account is deleted: the link goes with it, and the
    # pseudonym itself is retired later (see retire_after).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    # When a pseudonym whose person left is deleted on the network: a random while after the
    # account, so the two deletions can't be paired by their timing.
    retire_after: Mapped[dt.datetime | None] = mapped_column(Timestamp)
