"""The instance's own moderation state: rules, domain policies, reports, actions, held items."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow


class Rule(Base):
    """A rule shown at sign-up and on community pages; community_id NULL means instance-wide."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class DomainPolicy(Base):
    """What this instance does with a remote domain (and its subdomains)."""

    __tablename__ = "domain_policies"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    # suspend: nothing in or out; limit: accepted but held for review and never announced;
    # noop: only the reject_* switches apply.
    severity: Mapped[str] = mapped_column(String(16), default="suspend")
    reject_media: Mapped[bool] = mapped_column(Boolean, default=False)
    reject_reports: Mapped[bool] = mapped_column(Boolean, default=False)
    public_comment: Mapped[str] = mapped_column(Text, default="")
    private_comment: Mapped[str] = mapped_column(Text, default="")
    obfuscate: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class Report(Base):
    """A report from a reader here or a Flag from another server."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ap_id: Mapped[str | None] = mapped_column(String(2048), unique=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    target_actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    # rule | welfare | spam | other
    category: Mapped[str] = mapped_column(String(16), default="other")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Filed by the instance itself (a crisis signal), not by a person: counts against no one's quota.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    state: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(Text)
    forwarded_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class ModAction(Base):
    """One moderation action; the public modlog is read from here."""

    __tablename__ = "mod_actions"
    __table_args__ = (Index("ix_mod_actions_community_created", "community_id", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="SET NULL"))
    # approve | remove | restore | ban | unban | lock | unlock | pin | unpin | suspend ...
    action: Mapped[str] = mapped_column(String(32))
    target_actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    target_post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class HeldItem(Base):
    """Something waiting for a moderator: a post, a follow request or an incoming activity."""

    __tablename__ = "held_items"
    __table_args__ = (Index("ix_held_items_queue", "state", "urgent", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    # post | follow | activity | translation
    kind: Mapped[str] = mapped_column(String(16))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    follow_id: Mapped[int | None] = mapped_column(ForeignKey("follows.id", ondelete="CASCADE"))
    inbox_item_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_items.id", ondelete="CASCADE"))
    # kind "translation": the volunteer translation waiting (post_id is the post it translates).
    translation_id: Mapped[int | None] = mapped_column(ForeignKey("post_translations.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # pending | approved | rejected
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class KeywordRule(Base):
    """Words or patterns this instance (or one community) rejects, holds or puts behind a warning."""

    __tablename__ = "keyword_rules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), index=True)
    pattern: Mapped[str] = mapped_column(String(500))
    is_regex: Mapped[bool] = mapped_column(Boolean, default=False)
    # A BCP 47 language tag, or NULL for every language.
    language: Mapped[str | None] = mapped_column(String(16))
    # reject | hold | warn
    action: Mapped[str] = mapped_column(String(16))
    # The content warning added by a `warn` rule.
    warning: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class CommunityBan(Base):
    """Someone banned from a community here (or, remotely, from one of ours), until expiry."""

    __tablename__ = "community_bans"
    __table_args__ = (UniqueConstraint("community_id", "actor_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # The Block activity that carried the ban, to Undo it later.
    ap_id: Mapped[str | None] = mapped_column(String(2048))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
