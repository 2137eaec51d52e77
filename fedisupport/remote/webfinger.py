"""Finding a remote actor by its handle (@name@host), the way people type it."""
from __future__ import annotations

import re
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.fetch import FetchError
from ..activitypub.jsonld import ACTIVITY_JSON, LD_JSON
from ..activitypub.origin import normalize_host
from ..domain.accounts import local_actor_by_name
from ..models import Actor
from ..services import Services
from .actors import ActorUnavailable, get_actor

_HANDLE = re.compile(r"^@?([^@\s/]+)@([^@\s/]+)$")


class NotFound(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_handle(text: str) -> tuple[str, str]:
    """(name, host) of '@name@host' or 'name@host'; ValueError otherwise."""
    match = _HANDLE.match(text.strip())
    if not match:
        raise ValueError("write it like @name@example.org")
    return match.group(1), normalize_host(match.group(2))


async def actor_url_for(services: Services, name: str, host: str) -> str:
    url = f"{services.settings.scheme}://{host}/.well-known/webfinger?resource={quote(f'acct:{name}@{host}')}"
    try:
        jrd = await services.client.get_json(url, allow_plain_json=True, check_id=False)
    except FetchError as exc:
        raise NotFound(f"{host} did not answer: {exc.reason}") from None
    for link in jrd.get("links", []) if isinstance(jrd, dict) else []:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        kind = str(link.get("type", "")).split(";")[0].strip()
        href = link.get("href")
        if kind in (ACTIVITY_JSON, LD_JSON) and isinstance(href, str):
            return href
    raise NotFound(f"{name}@{host} has no ActivityPub actor")


async def resolve_handle(services: Services, session: AsyncSession, handle: str) -> Actor:
    """The actor a handle names, fetched and stored; local handles resolve without a request."""
    try:
        name, host = parse_handle(handle)
    except ValueError as exc:
        raise NotFound(str(exc)) from None
    if host == services.settings.domain:
        actor = await local_actor_by_name(session, services.settings, name)
        if actor is None:
            raise NotFound(f"there is nobody called {name} here")
        return actor
    # The answer may point at another web domain; the actor document, fetched from its own
    # origin (and checked there), is what counts.
    url = await actor_url_for(services, name, host)
    try:
        return await get_actor(services, session, url)
    except ActorUnavailable as exc:
        raise NotFound(exc.reason) from None
