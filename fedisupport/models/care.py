"""Care built in: the directory of crisis services and the phrases that signal someone may be at risk."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Id, Timestamp, utcnow

# How a service is reached. `contact` holds a number for phone, a number or short code for text
# (with what to send in `description`), and a URL for chat and web.
SERVICE_KINDS = ("phone", "text", "chat", "web")
# `region` is an ISO 3166-1 alpha-2 code, or this for services anyone anywhere can use.
INTERNATIONAL = "*"


class CrisisService(Base):
    """One way to reach a crisis service: a number to call, a short code to text, a chat or a directory.

    Seeded from fedisupport/data/crisis_services.json (`seed_key` is the entry's key there, so
    seeding again adds only what is missing and never undoes an admin's edit); admins edit,
    deactivate and reorder them at /admin/care/services.
    """

    __tablename__ = "crisis_services"
    __table_args__ = (Index("ix_crisis_services_region_position", "region", "position"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    seed_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    contact: Mapped[str] = mapped_column(String(500))
    region: Mapped[str] = mapped_column(String(2))
    # Space-separated BCP 47 tags of the languages the service answers in, e.g. "en es".
    languages: Mapped[str] = mapped_column(String(100), default="")
    hours: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(String(2048))
    last_checked: Mapped[dt.date | None] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class CrisisPhrase(Base):
    """Words that may mean someone is at risk. A match shows the writer the crisis services and puts
    the post in the urgent lane of the moderators' queue; nothing is removed or sent anywhere."""

    __tablename__ = "crisis_phrases"
    __table_args__ = (UniqueConstraint("language", "phrase"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    phrase: Mapped[str] = mapped_column(String(200))
    # A BCP 47 primary language tag: en, es, hi, ar, ...
    language: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
