"""The crisis-signal phrase list in the database, and one compiled Matcher per process.

Compile once, and again only when admins change the list. Whether it changed is read from the
table itself (how many active phrases, and the newest change), so every process of the instance
notices an edit made in another; the check is one small aggregate query per post written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import CrisisPhrase, utcnow
from .signals import EMPTY, Matcher, Phrase, normalize

LANGUAGES = ("en", "es", "hi", "ar")
MAX_PHRASE = 200


@dataclass
class _Cached:
    fingerprint: Any
    matcher: Matcher


_cache: _Cached | None = None


def invalidate() -> None:
    """Forget this process's compiled list (admins just changed it)."""
    global _cache
    _cache = None


async def _fingerprint(session: AsyncSession) -> tuple:
    row = (await session.execute(select(
        func.count(CrisisPhrase.id), func.sum(case((CrisisPhrase.active.is_(True), 1), else_=0)),
        func.max(CrisisPhrase.updated_at), func.max(CrisisPhrase.id),
    ))).one()
    return tuple(row)


async def matcher(session: AsyncSession) -> Matcher:
    """The compiled list of active phrases, rebuilt only when the table changed."""
    global _cache
    fingerprint = await _fingerprint(session)
    cached = _cache
    if cached is not None and cached.fingerprint == fingerprint:
        return cached.matcher
    rows = (await session.execute(select(CrisisPhrase.phrase, CrisisPhrase.language)
                                  .where(CrisisPhrase.active.is_(True)))).all()
    built = Matcher(Phrase(p, lang) for p, lang in rows) if rows else EMPTY
    _cache = _Cached(fingerprint, built)
    return built


# --- the shipped list ----------------------------------------------------------------------------


def shipped_phrases() -> list[dict]:
    """fedisupport/data/crisis_phrases.json: [{"phrase": ..., "language": ...}, ...]."""
    raw = json.loads(resources.files("fedisupport").joinpath("data/crisis_phrases.json").read_text("utf-8"))
    return [entry for entry in raw["phrases"]]


def clean_phrase(text: str) -> str:
    return " ".join((text or "").split())[:MAX_PHRASE]


async def seed(session: AsyncSession) -> int:
    """Add the shipped phrases that are missing; returns how many were added.

    A phrase an admin turned off stays off: it is still in the table, so it is not added again.
    """
    existing = {(lang, normalize(p)) for p, lang in (await session.execute(
        select(CrisisPhrase.phrase, CrisisPhrase.language))).all()}
    added = 0
    now = utcnow()
    for entry in shipped_phrases():
        phrase, language = clean_phrase(entry["phrase"]), entry["language"]
        key = (language, normalize(phrase))
        if not key[1] or key in existing:
            continue
        existing.add(key)
        session.add(CrisisPhrase(phrase=phrase, language=language, active=True, created_at=now, updated_at=now))
        added += 1
    await session.flush()
    if added:
        invalidate()
    return added


async def add_phrase(session: AsyncSession, phrase: str, language: str) -> CrisisPhrase | None:
    """A new active phrase; None when it is empty or already listed (then it is switched back on)."""
    phrase = clean_phrase(phrase)
    form = normalize(phrase)
    if not form:
        return None
    for row in await session.scalars(select(CrisisPhrase).where(CrisisPhrase.language == language)):
        if normalize(row.phrase) == form:
            if not row.active:
                row.active = True
                row.updated_at = utcnow()
            invalidate()
            return None
    row = CrisisPhrase(phrase=phrase, language=language, active=True, created_at=utcnow(), updated_at=utcnow())
    session.add(row)
    await session.flush()
    invalidate()
    return row


async def set_active(session: AsyncSession, phrase_id: int, active: bool) -> bool:
    row = await session.get(CrisisPhrase, phrase_id)
    if row is None:
        return False
    row.active = active
    row.updated_at = utcnow()
    await session.flush()
    invalidate()
    return True
