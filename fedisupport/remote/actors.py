"""Remote actors and their keys: fetched from their origin, stored, and cached."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, TypeVar

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.fetch import FetchError
from ..db import write_transaction
from ..activitypub.origin import host_of, same_origin
from ..activitypub.vocab import APActor, Invalid, parse_actor
from ..models import APPLICATION, GROUP, PERSON, Actor, Instance, utcnow
from ..services import Services
from .keys import CachedKey, KeyCache

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


def _storable(text: str) -> str:
    """Remote text as a database can hold it. A NUL (PostgreSQL refuses it) or a lone surrogate
    (no UTF-8 form) in a name or summary made storing the actor fail, so every inbox POST it signed
    answered 500 and every worker item needing it was retried for days (security row 8)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _forget_key(session: AsyncSession, keys: KeyCache, key_id: str) -> None:
    """Drop a replaced key from the cache now, and again once the new row is committed (a request
    that read the old row before the commit could otherwise put the old key back)."""
    keys.forget(key_id)
    event.listen(session.sync_session, "after_commit", lambda _session: keys.forget(key_id), once=True)


async def store_actor(session: AsyncSession, ap: APActor, keys: KeyCache | None = None) -> Actor:
    """Insert or refresh a remote actor row from a verified document.

    `keys`: the key cache, from which a key this document no longer lists is dropped.
    """
    if ap.type not in _KINDS:
        raise ActorUnavailable(f"unsupported actor type {ap.type}")
    actor = await session.scalar(select(Actor).where(Actor.ap_id == ap.id))
    if actor is None:
        actor = await _insert_placeholder(session, ap)
    if actor.local:
        raise ActorUnavailable("refusing to overwrite a local actor")
    actor.kind = _KINDS[ap.type]
    actor.username = _storable(ap.preferred_username)[:255]
    actor.domain = host_of(ap.id)
    actor.display_name = _storable(ap.name or ap.preferred_username)[:500]
    actor.summary = _storable(ap.summary or "")
    actor.url = ap.url
    actor.icon_url = ap.icon
    actor.inbox_url = ap.inbox
    actor.shared_inbox_url = ap.shared_inbox
    actor.outbox_url = ap.outbox
    actor.followers_url = ap.followers
    actor.manually_approves_followers = ap.manually_approves_followers
    if ap.public_key is not None:
        if same_origin(ap.public_key.id, ap.id):
            new_key_id, new_pem = ap.public_key.id, ap.public_key.pem
        else:
            # Key-id squatting: an actor naming another host's keyId as its own made every later
            # lookup of that keyId answer "owned by the squatter", locking the real owner out (401
            # forever). A key is only ever accepted from its own host (see _fetch_key), so keep none.
            new_key_id, new_pem = None, None
        if keys is not None and actor.key_id and (actor.key_id, actor.public_key_pem) != (new_key_id, new_pem):
            # Key rotation: the old key must stop verifying once the actor lists another (a leaked
            # key is the usual reason to rotate); it used to stay cached until evicted.
            _forget_key(session, keys, actor.key_id)
        actor.key_id = new_key_id
        actor.public_key_pem = new_pem
    actor.fetched_at = utcnow()
    actor.deleted_at = None
    await session.flush()
    await _note_instance(session, actor.domain)
    return actor


async def _insert_placeholder(session: AsyncSession, ap: APActor) -> Actor:
    """A new row for the actor, or the one another process stored a moment ago.

    Several server processes may meet a new actor at once; the loser of the race reads the
    winner's row back instead of failing the request (it is then refreshed as usual).
    """
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(Actor).values(
        ap_id=ap.id, local=False, kind=_KINDS[ap.type], username="", domain=host_of(ap.id), display_name="",
        summary="", inbox_url=ap.inbox, manually_approves_followers=False, follower_count=0, following_count=0,
        post_count=0, suspended=False, created_at=utcnow(), updated_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["ap_id"]))
    return await session.scalar(select(Actor).where(Actor.ap_id == ap.id).execution_options(populate_existing=True))


async def _note_instance(session: AsyncSession, host: str) -> None:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(Instance).values(
        host=host, first_seen_at=utcnow(), failure_days=0, consecutive_failures=0, paused=False,
    ).on_conflict_do_nothing(index_elements=["host"]))


async def get_actor(services: Services, session: AsyncSession, ap_id: str, *, refresh: bool = False) -> Actor:
    """A known actor from the database, or fetched from its origin and stored."""
    if not refresh:
        actor = await session.scalar(select(Actor).where(Actor.ap_id == ap_id))
        if actor is not None:
            return actor
    ap = await _once(services, "actor:" + ap_id, lambda: fetch_actor_document(services, ap_id))
    if ap.id != ap_id:
        raise ActorUnavailable(f"{ap_id} answered with another actor")
    return await store_actor(session, ap, services.keys)


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
        # same_origin: rows stored before keys on other hosts were refused (key-id squatting).
        if row is not None and row.public_key_pem and same_origin(row.ap_id, key_id):
            entry = CachedKey(key_id, row.ap_id, row.public_key_pem)
            services.keys.put(entry)
            return entry
    elif not services.keys.may_refresh(key_id):
        raise ActorUnavailable("the key was fetched again moments ago and still does not verify")
    failure = services.keys.recent_failure(key_id)
    if failure is not None:
        raise ActorUnavailable(failure)
    try:
        return await _once(services, "key:" + key_id, lambda: _fetch_key_unless_cached(services, key_id, refresh))
    except ActorUnavailable as exc:
        services.keys.failed(key_id, exc.reason)
        raise


async def _fetch_key_unless_cached(services: Services, key_id: str, refresh: bool) -> CachedKey:
    # Fetch storms (row 12): a request that missed the cache and the database just before a
    # concurrent fetch stored the key, but reaches _once just after it finished, must not fetch again.
    cached = None if refresh else services.keys.get(key_id)
    return cached if cached is not None else await _fetch_key(services, key_id)


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
    # Read-then-write: on SQLite it queues for the write lock (a deferred transaction failed with
    # "database is locked" when the inbox writer or the worker committed meanwhile).
    async with write_transaction(services.sessions) as session:
        await store_actor(session, ap, services.keys)
    entry = CachedKey(key_id, ap.id, ap.public_key.pem)
    services.keys.put(entry)
    return entry
