"""Volunteer translations of a thread's opening post, one per post and language."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow
from .content import PUBLISHED


class PostTranslation(Base):
    """The opening post in another language. Federated as another `contentMap`/`nameMap` entry.

    Written here by a volunteer (`local`, with the Markdown they typed in `source`), or received in
    the post's own `contentMap` from the post's origin (`local` false, no translator known here).
    `state` is published, or held while a moderator looks at it (the policy's local checkpoint),
    or rejected when a moderator turned it down.
    """

    __tablename__ = "post_translations"
    __table_args__ = (UniqueConstraint("post_id", "language"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(Text)  # Markdown as written; translations made here only
    content_html: Mapped[str] = mapped_column(Text, default="")  # always sanitised
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    translator_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=PUBLISHED)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
