"""What software a remote host runs (from NodeInfo), which decides what its followers receive."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select, update

from ..activitypub.fetch import FetchError
from ..models import Instance, utcnow
from ..services import Services

log = logging.getLogger("fedisupport.remote")
RECHECK_AFTER = dt.timedelta(days=7)
# Forum software shows every reply inside its thread; everything else is a microblog, where
# each Announce becomes a boost in someone's home feed.
FORUM_SOFTWARE = frozenset({"lemmy", "piefed", "mbin", "kbin", "fedisupport", "nodebb", "discourse", "lotide", "sublinks"})
_NODEINFO_RELS = ("http://nodeinfo.diaspora.software/ns/schema/2.1", "http://nodeinfo.diaspora.software/ns/schema/2.0")


def is_forum(software: str | None) -> bool:
    return (software or "").lower() in FORUM_SOFTWARE


async def detect_software(services: Services, host: str) -> tuple[str | None, str | None]:
    base = f"{services.settings.scheme}://{host}"
    try:
        links = await services.client.get_json(base + "/.well-known/nodeinfo", allow_plain_json=True, check_id=False)
        href = next((link.get("href") for rel in _NODEINFO_RELS for link in links.get("links", [])
                     if isinstance(link, dict) and link.get("rel") == rel), None)
        if not isinstance(href, str):
            return None, None
        info = await services.client.get_json(href, allow_plain_json=True, check_id=False)
    except FetchError as exc:
        log.info("no NodeInfo from %s: %s", host, exc.reason)
        return None, None
    software = info.get("software") if isinstance(info, dict) else None
    if not isinstance(software, dict):
        return None, None
    name, version = software.get("name"), software.get("version")
    return (str(name).lower()[:64] if name else None), (str(version)[:64] if version else None)


async def refresh_software(services: Services, limit: int = 10) -> int:
    """Look up hosts we have not asked yet (or not for a week); outside any transaction."""
    cutoff = utcnow() - RECHECK_AFTER
    async with services.sessions() as session:
        hosts = list(await session.scalars(
            select(Instance.host).where(or_(Instance.software_checked_at.is_(None), Instance.software_checked_at < cutoff))
            .limit(limit)))
    for host in hosts:
        software, version = await detect_software(services, host)
        async with services.sessions() as session, session.begin():
            await session.execute(update(Instance).where(Instance.host == host).values(
                software=software, software_version=version, software_checked_at=utcnow()))
    return len(hosts)
