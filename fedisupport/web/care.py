"""Which crisis services a reader sees: their region and language, and the services for them.

`crisis_resources(request, session)` is what every page uses: /help shows all of it, community
and thread pages a one-line box, and the page after a post that matched a crisis signal the
services for the writer's region.

The region is the one the reader chose on /help (a cookie, set by a plain form), else the first
region in their browser's Accept-Language (`es-MX` -> MX), else none: then the international
entries lead. The language is the first language in Accept-Language (`es-MX` -> es); services in
that language come first within the region.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from ..care import directory
from ..models import CrisisService
from ..models.care import INTERNATIONAL

REGION_COOKIE = "fs_region"
REGION_COOKIE_MAX_AGE = 400 * 24 * 3600
_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_REGION = re.compile(r"^[A-Z]{2}$")


@dataclass
class Preference:
    region: str | None  # ISO 3166-1 alpha-2, or None when unknown
    language: str | None  # primary language subtag, lower case
    chosen: bool = False  # the region came from the reader's own choice on /help


def parse_accept_language(header: str | None, limit: int = 20) -> list[tuple[str, float]]:
    """Language ranges by preference, best first: [("es-MX", 1.0), ("es", 0.8), ...]."""
    ranges = []
    for index, part in enumerate((header or "")[:1000].split(",")[:limit]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or not _TAG.match(tag):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((tag, max(0.0, min(quality, 1.0)), index))
    ranges.sort(key=lambda item: (-item[1], item[2]))
    return [(tag, quality) for tag, quality, _ in ranges]


def region_of_tag(tag: str) -> str | None:
    """The region subtag of a language tag: "es-MX" -> "MX", "zh-Hant-TW" -> "TW", "es-419" -> None."""
    for subtag in tag.split("-")[1:]:
        if len(subtag) == 2 and subtag.isalpha():
            return subtag.upper()
    return None


def negotiate(accept_language: str | None, chosen_region: str | None = None) -> Preference:
    """The reader's region and language from their choice and their browser."""
    ranges = parse_accept_language(accept_language)
    language = ranges[0][0].split("-")[0].lower() if ranges else None
    chosen = clean_region(chosen_region)
    if chosen:
        return Preference(region=chosen, language=language, chosen=True)
    region = next((r for r in (region_of_tag(tag) for tag, _ in ranges) if r), None)
    return Preference(region=region, language=language)


def clean_region(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value if _REGION.match(value) else None


def preference(request: Request) -> Preference:
    return negotiate(request.headers.get("accept-language"), request.cookies.get(REGION_COOKIE))


@dataclass
class Resources:
    """What a page shows of the directory for this reader."""

    region: str | None
    region_name: str
    language: str | None
    chosen: bool
    local: list[CrisisService] = field(default_factory=list)  # for the reader's region
    international: list[CrisisService] = field(default_factory=list)
    # Filled only when asked (the /help page): every other region's services, by region name.
    others: list[tuple[str, str, list[CrisisService]]] = field(default_factory=list)
    regions: list[tuple[str, str]] = field(default_factory=list)  # (code, name) for the chooser

    @property
    def first(self) -> CrisisService | None:
        """The one service a compact box names: the reader's region first, else international."""
        return (self.local or self.international or [None])[0]

    def href(self, service: CrisisService) -> str | None:
        return directory.dial_href(service)


def _by_language(services: list[CrisisService], language: str | None) -> list[CrisisService]:
    """Services whose first language is the reader's first, then those that also answer in it, then the
    rest; the admins' order otherwise."""
    if not language:
        return services

    def rank(service: CrisisService) -> int:
        tags = (service.languages or "").split()
        return tags.index(language) if language in tags else len(tags) + 100

    return sorted(services, key=rank)


async def crisis_resources(request: Request, session: AsyncSession, *, everything: bool = False) -> Resources:
    """The crisis services for the reader of this request (see the module's docstring).

    Compact boxes need only the reader's region and the international entries (one indexed
    query); `everything=True` (the /help page) adds the other regions and the chooser.
    """
    pref = preference(request)
    resources = Resources(region=pref.region, region_name=directory.region_name(pref.region),
                          language=pref.language, chosen=pref.chosen)
    if everything:
        rows = await directory.all_active(session)
    else:
        rows = await directory.for_regions(session, [pref.region, INTERNATIONAL] if pref.region else [INTERNATIONAL])
    resources.local = _by_language([s for s in rows if pref.region and s.region == pref.region], pref.language)
    resources.international = [s for s in rows if s.region == INTERNATIONAL]
    if everything:
        grouped: dict[str, list[CrisisService]] = {}
        for service in rows:
            if service.region not in (INTERNATIONAL, pref.region):
                grouped.setdefault(service.region, []).append(service)
        resources.others = sorted(((code, directory.region_name(code), services)
                                   for code, services in grouped.items()), key=lambda item: item[1])
        codes = sorted({s.region for s in rows if s.region != INTERNATIONAL}, key=directory.region_name)
        resources.regions = [(code, directory.region_name(code)) for code in codes]
    return resources
