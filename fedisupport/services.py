"""The long-lived things a server or worker process shares: database, HTTP client, caches."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from . import db
from .activitypub.fetch import SafeClient, Signer
from .remote.keys import KeyCache
from .remote.signing import load_instance_signer
from .settings import Settings

log = logging.getLogger("fedisupport")


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    client: SafeClient
    keys: KeyCache
    # Set when new queue rows are committed, so an in-process worker starts at once.
    work_available: asyncio.Event = field(default_factory=asyncio.Event)
    # Fetches of one key or actor in flight, shared by every request that needs it.
    inflight: dict[str, asyncio.Future] = field(default_factory=dict)
    _instance_signer: Signer | None = None

    async def instance_signer(self) -> Signer:
        """The instance actor signs fetches (Mastodon's secure mode needs every GET signed)."""
        if self._instance_signer is None:
            async with self.sessions() as session:
                self._instance_signer = await load_instance_signer(session, self.settings)
        return self._instance_signer


def make_client(settings: Settings) -> SafeClient:
    return SafeClient(allow_private=settings.allow_private_addresses, max_body=settings.max_fetch_bytes,
                      user_agent=f"fedisupport (+{settings.base_url}/)")


@contextlib.asynccontextmanager
async def open_services(settings: Settings, *, check_schema: bool = True) -> AsyncIterator[Services]:
    engine = db.create_engine(settings)
    client = make_client(settings)
    try:
        if check_schema:
            await db.check_schema(engine, settings)
        yield Services(settings=settings, engine=engine, sessions=db.session_factory(engine), client=client,
                       keys=KeyCache())
    finally:
        await client.aclose()
        await engine.dispose()
