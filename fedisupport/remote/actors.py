"""Remote actors and their keys: fetched from their origin, stored, and cached."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.fetch import FetchError
from ..activitypub.origin import host_of, same_origin
from ..activitypub.vocab import APActor, Invalid, parse_actor
from ..models import APPLICATION, GROUP, PERSON, Actor, Instance, utcnow
from ..services import Services
from .keys import CachedKey

log = logging.getLogger("fedisupport.remote")

_KINDS = {"Group": GROUP, "Person": PERSON, "Service": PERSON, "Organization": PERSON, "Application": APPLICATION}
T = TypeVar("T")


class ActorUnavailable(Exception):
    """The actor or key could not be fetched or is not acceptable; `reason` says why."""

    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone


async def _once(services: Services, key: str, make: Callable[[], Awaitable[T]]) -> T:
    """Share one fetch among every caller that asks for the same thing at the same time."""
    pending = services.inflight.get(key)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    services.inflight[key] = future
    try:
        result = await make()
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # mark retrieved: waiters get it, nobody else must
        raise
    else:
        future.set_result(result)
        return result
    finally:
        services.inflight.pop(key, None)


async def fetch_actor_document(services: Services, url: str) -> APActor:
    """Fetch and parse an actor from its origin, signed as our instance actor."""
    try:
        doc = await services.client.get_json(url, signer=await services.instance_signer())
    except FetchError as exc:
        raise ActorUnavailable(f"could not fetch {url}: {exc.reason}", gone=getattr(exc, "status", None) in (404, 410)) from None
    try:
        return parse_actor(doc)
    except Invalid as exc:
        raise ActorUnavailable(f"{url} is not a usable actor: {exc}") from None


async def store_actor(session: AsyncSession, ap: APActor) -> Actor:
    """Insert or refresh a remote actor row from a verified document."""
    if ap.type not in _KINDS:
        raise ActorUnavailable(f"unsupported actor type {ap.type}")
    actor = await session.scalar(select(Actor).where(Actor.ap_id == ap.id))
    if actor is not None and actor.local:
        raise ActorUnavailable("refusing to overwrite a local actor")
    if actor is None:
        actor = Actor(ap_id=ap.id, local=False)
        session.add(actor)
    actor.kind = _KINDS[ap.type]
    actor.username = ap.preferred_username[:255]
    actor.domain = host_of(ap.id)
    actor.display_name = (ap.name or ap.preferred_username)[:500]
    actor.summary = ap.summary or ""
    actor.url = ap.url
    actor.icon_url = ap.icon
    actor.inbox_url = ap.inbox
    actor.shared_inbox_url = ap.shared_inbox
    actor.outbox_url = ap.outbox
    actor.followers_url = ap.followers
    actor.manually_approves_followers = ap.manually_approves_followers
    if ap.public_key is not None:
        actor.key_id = ap.public_key.id
        actor.public_key_pem = ap.public_key.pem
    actor.fetched_at = utcnow()
    actor.deleted_at = None
    await session.flush()
    await _note_instance(session, actor.domain)
    return actor


async def _note_instance(session: AsyncSession, host: str) -> None:
    if await session.get(Instance, host) is None:
        session.add(Instance(host=host))
        await session.flush()


async def get_actor(services: Services, session: AsyncSession, ap_id: str, *, refresh: bool = False) -> Actor:
    """A known actor from the database, or fetched from its origin and stored."""
    if not refresh:
        actor = await session.scalar(select(Actor).where(Actor.ap_id == ap_id))
        if actor is not None:
            return actor
    ap = await _once(services, "actor:" + ap_id, lambda: fetch_actor_document(services, ap_id))
    if ap.id != ap_id:
        raise ActorUnavailable(f"{ap_id} answered with another actor")
    return await store_actor(session, ap)


async def resolve_key(services: Services, key_id: str, *, refresh: bool = False) -> CachedKey:
    """The public key for a signature's keyId, and the actor that owns it.

    The owner must list the key as its own (CVE-2024-23832): a key document that names an
    owner is only believed once the owner's actor document points back at the same key.
    """
    if not refresh:
        cached = services.keys.get(key_id)
        if cached is not None:
            return cached
        async with services.sessions() as session:
            row = (await session.execute(
                select(Actor.ap_id, Actor.public_key_pem).where(Actor.key_id == key_id, Actor.local.is_(False))
            )).first()
        if row is not None and row.public_key_pem:
            entry = CachedKey(key_id, row.ap_id, row.public_key_pem)
            services.keys.put(entry)
            return entry
    return await _once(services, "key:" + key_id, lambda: _fetch_key(services, key_id))


async def _fetch_key(services: Services, key_id: str) -> CachedKey:
    document_url = key_id.split("#", 1)[0]
    try:
        doc = await services.client.get_json(document_url, signer=await services.instance_signer())
    except FetchError as exc:
        raise ActorUnavailable(f"could not fetch key {key_id}: {exc.reason}",
                               gone=getattr(exc, "status", None) in (404, 410)) from None
    if "inbox" not in doc and isinstance(doc.get("owner"), str):
        # A standalone key document: follow it to its owner, on the same host only.
        owner_id = doc["owner"]
        if not same_origin(owner_id, key_id):
            raise ActorUnavailable("key owner is on another host than the key")
        ap = await fetch_actor_document(services, owner_id)
    else:
        try:
            ap = parse_actor(doc)
        except Invalid as exc:
            raise ActorUnavailable(f"key document is not a usable actor: {exc}") from None
    if ap.public_key is None or ap.public_key.id != key_id:
        raise ActorUnavailable("the actor does not list this key as its own")
    if not same_origin(ap.id, key_id):
        raise ActorUnavailable("key and actor are on different hosts")
    async with services.sessions() as session, session.begin():
        await store_actor(session, ap)
    entry = CachedKey(key_id, ap.id, ap.public_key.pem)
    services.keys.put(entry)
    return entry
