"""The directory of crisis services: the shipped data file, seeding, checks, and admin changes.

The shipped entries live in fedisupport/data/crisis_services.json (how each was checked is in
fedisupport/data/README.md). Seeding adds entries whose key is not in the table yet and never
touches a row that is there: an admin's correction, or a service they turned off, stays as
they left it.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import urlsplit

from babel import Locale
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import i18n
from ..i18n import _
from ..models import CrisisService, utcnow
from ..models.care import INTERNATIONAL, SERVICE_KINDS

REGION = re.compile(r"^[A-Z]{2}$")
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
LIMITS = {"name": 200, "contact": 500, "languages": 100, "hours": 200, "description": 2000, "source_url": 2048}

# Names of the regions people can choose on /help (the ones the shipped directory covers, and a
# few more); any other ISO 3166-1 code still works and is shown as its code.
REGION_NAMES = {
    "AE": "United Arab Emirates", "AR": "Argentina", "AU": "Australia", "BO": "Bolivia", "BR": "Brazil",
    "CA": "Canada", "CL": "Chile", "CO": "Colombia", "CR": "Costa Rica", "DE": "Germany", "DZ": "Algeria",
    "EC": "Ecuador", "EG": "Egypt", "ES": "Spain", "FR": "France", "GB": "United Kingdom", "GT": "Guatemala",
    "IE": "Ireland", "IN": "India", "IQ": "Iraq", "JO": "Jordan", "KW": "Kuwait", "LB": "Lebanon", "MA": "Morocco",
    "MX": "Mexico", "NZ": "New Zealand", "OM": "Oman", "PE": "Peru", "PK": "Pakistan", "PR": "Puerto Rico",
    "PS": "Palestine", "PY": "Paraguay", "QA": "Qatar", "SA": "Saudi Arabia", "SY": "Syria", "TN": "Tunisia",
    "US": "United States", "UY": "Uruguay", "VE": "Venezuela", "YE": "Yemen", "ZA": "South Africa",
}


def region_name(code: str | None) -> str:
    if not code:
        return ""
    if code == INTERNATIONAL:
        return _("Anywhere in the world")
    reader = i18n.current().code
    if reader != i18n.DEFAULT:  # the reader's own name for it, from CLDR ("Estados Unidos", "مصر")
        return Locale.parse(reader).territories.get(code) or REGION_NAMES.get(code, code)
    return REGION_NAMES.get(code, code)


# --- checking an entry ---------------------------------------------------------------------------


@dataclass
class ServiceFields:
    name: str = ""
    kind: str = "phone"
    contact: str = ""
    region: str = ""
    languages: str = ""
    hours: str = ""
    description: str = ""
    source_url: str = ""
    last_checked: dt.date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: dict) -> "ServiceFields":
        """Clean and check what an admin typed (or a data file holds); problems go to `errors`."""
        text = {key: " ".join(str(values.get(key) or "").split())[:limit] for key, limit in LIMITS.items()}
        text["description"] = str(values.get("description") or "").strip()[:LIMITS["description"]]
        fields = cls(**text, kind=str(values.get("kind") or "").strip().lower(),
                     region=str(values.get("region") or "").strip().upper())
        fields.languages = " ".join(dict.fromkeys(tag.lower() for tag in fields.languages.replace(",", " ").split()))
        errors = fields.errors
        if not fields.name:
            errors["name"] = "Please give the service's name."
        if fields.kind not in SERVICE_KINDS:
            errors["kind"] = "Please choose phone, text, chat or web."
        if not fields.contact:
            errors["contact"] = "Please give the number, short code or web address."
        elif fields.kind in ("chat", "web") and not is_web_url(fields.contact):
            errors["contact"] = "For chat and web, please give a full address starting with https://."
        elif fields.kind in ("phone", "text") and not re.search(r"\d", fields.contact):
            errors["contact"] = "Please give the number or short code, with its digits."
        if fields.region != INTERNATIONAL and not REGION.match(fields.region):
            errors["region"] = "Please give a two-letter country code (like MX or GB), or * for anywhere."
        if any(not LANGUAGE_TAG.match(tag) for tag in fields.languages.split()):
            errors["languages"] = "Please give language tags separated by spaces, like: en es."
        if not is_web_url(fields.source_url):
            errors["source_url"] = ("Please give the web address where this was checked (the service's own "
                                    "page or a government page), starting with https://.")
        checked = values.get("last_checked")
        if isinstance(checked, dt.date):
            fields.last_checked = checked
        elif checked:
            try:
                fields.last_checked = dt.date.fromisoformat(str(checked).strip())
            except ValueError:
                errors["last_checked"] = "Please give the date as year-month-day, like 2026-03-01."
        return fields

    def apply(self, service: CrisisService) -> None:
        for key in ("name", "kind", "contact", "region", "languages", "hours", "description", "source_url",
                    "last_checked"):
            setattr(service, key, getattr(self, key))
        service.updated_at = utcnow()


def is_web_url(value: str) -> bool:
    parts = urlsplit(value or "")
    return parts.scheme in ("https", "http") and bool(parts.netloc) and " " not in value


def dial_href(service: CrisisService) -> str | None:
    """A tel:/sms: link for a number that is only digits (and + * #), else None (words stay words)."""
    if service.kind not in ("phone", "text"):
        return service.contact if service.kind in ("chat", "web") else None
    digits = re.sub(r"[\s\-().]", "", service.contact)
    if not re.fullmatch(r"\+?[0-9*#]{2,20}", digits):
        return None
    return ("tel:" if service.kind == "phone" else "sms:") + digits.replace("#", "%23")


# --- the shipped file ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def shipped() -> tuple[dict, ...]:
    """The entries of fedisupport/data/crisis_services.json, in their order."""
    raw = json.loads(resources.files("fedisupport").joinpath("data/crisis_services.json").read_text("utf-8"))
    return tuple(raw["services"])


def shipped_services() -> list[CrisisService]:
    """The shipped entries as unsaved rows: what pages show on an instance never seeded."""
    rows = []
    for position, entry in enumerate(shipped()):
        fields = ServiceFields.from_values(entry)
        service = CrisisService(seed_key=entry["key"], position=(position + 1) * 10, active=True)
        fields.apply(service)
        rows.append(service)
    return rows


async def seed(session: AsyncSession) -> int:
    """Add the shipped services whose key is not in the table yet; returns how many were added."""
    known = set(await session.scalars(select(CrisisService.seed_key).where(CrisisService.seed_key.is_not(None))))
    last = await session.scalar(select(func.max(CrisisService.position))) or 0
    added = 0
    for entry in shipped():
        if entry["key"] in known:
            continue
        fields = ServiceFields.from_values(entry)
        if fields.errors:
            raise ValueError(f"crisis_services.json entry {entry['key']!r}: {fields.errors}")
        last += 10
        service = CrisisService(seed_key=entry["key"], position=last, active=True, created_at=utcnow())
        fields.apply(service)
        session.add(service)
        added += 1
    await session.flush()
    return added


# --- reading -------------------------------------------------------------------------------------


async def for_regions(session: AsyncSession, regions: list[str]) -> list[CrisisService]:
    """Active services of these regions (and "*"), in the admins' order."""
    rows = list(await session.scalars(
        select(CrisisService).where(CrisisService.active.is_(True), CrisisService.region.in_(regions))
        .order_by(CrisisService.position, CrisisService.id)))
    if not rows and not await session.scalar(select(CrisisService.id).limit(1)):
        # Never seeded (migrated by hand, no `init`): show the shipped list rather than nothing.
        rows = [s for s in shipped_services() if s.region in regions]
    return rows


async def all_active(session: AsyncSession) -> list[CrisisService]:
    rows = list(await session.scalars(select(CrisisService).where(CrisisService.active.is_(True))
                                      .order_by(CrisisService.position, CrisisService.id)))
    if not rows and not await session.scalar(select(CrisisService.id).limit(1)):
        rows = shipped_services()
    return rows


async def regions_listed(session: AsyncSession) -> list[str]:
    """Regions with at least one active service, for the chooser on /help."""
    codes = set(await session.scalars(select(CrisisService.region).where(CrisisService.active.is_(True)).distinct()))
    if not codes and not await session.scalar(select(CrisisService.id).limit(1)):
        codes = {entry["region"] for entry in shipped()}
    codes.discard(INTERNATIONAL)
    return sorted(codes, key=region_name)


# --- admin changes -------------------------------------------------------------------------------


async def add_service(session: AsyncSession, fields: ServiceFields) -> CrisisService:
    last = await session.scalar(select(func.max(CrisisService.position))) or 0
    service = CrisisService(position=last + 10, active=True, created_at=utcnow())
    fields.apply(service)
    session.add(service)
    await session.flush()
    return service


async def move(session: AsyncSession, service: CrisisService, direction: str) -> bool:
    """Swap places with the neighbour above ("up") or below ("down") among the services of its region.

    Order only matters within a region (pages group services by region), so the region's services
    are renumbered 10, 20, 30... in their new order.
    """
    rows = list(await session.scalars(select(CrisisService).where(CrisisService.region == service.region)
                                      .order_by(CrisisService.position, CrisisService.id)))
    index = next(i for i, row in enumerate(rows) if row.id == service.id)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rows):
        return False
    rows[index], rows[other] = rows[other], rows[index]
    now = utcnow()
    for i, row in enumerate(rows):
        if row.position != (i + 1) * 10:
            row.position = (i + 1) * 10
            row.updated_at = now
    await session.flush()
    return True
