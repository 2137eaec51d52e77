"""Real fedisupport instances on loopback ports, each with its own domain and database."""
from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import httpx
import uvicorn

from fedisupport import db
from fedisupport.app import create_app
from fedisupport.domain import accounts
from fedisupport.settings import Settings, build_settings

from .databases import DatabaseFactory


@dataclass
class Instance:
    settings: Settings
    app: object
    server: uvicorn.Server

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @property
    def sessions(self):
        return self.app.state.sessions

    @property
    def services(self):
        return self.app.state.services

    def url(self, path: str) -> str:
        return self.settings.url(path)

    def client(self, **kwargs) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10, **kwargs)


def bind_loopback(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def make_settings(databases: DatabaseFactory, data_dir: Path, port: int, **overrides) -> Settings:
    url = await databases.anew_url(data_dir)
    raw = {
        "domain": f"127.0.0.1:{port}",
        "port": port,
        "database_url": url,
        "insecure_http": True,
        "allow_private_addresses": True,
        **overrides,
    }
    return build_settings(raw, data_dir)


async def populate(settings: Settings) -> None:
    engine = db.create_engine(settings)
    try:
        async with db.transaction(db.session_factory(engine)) as session:
            await accounts.ensure_instance_actor(session, settings)
            await accounts.ensure_site(session, f"Test {settings.domain}", registration_mode="open")
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def running_instance(databases: DatabaseFactory, data_dir: Path, settings: Settings | None = None,
                           **overrides) -> AsyncIterator[Instance]:
    """Serve a fresh instance over real HTTP until the block ends; pass `settings` to restart one."""
    if settings is None:
        sock = bind_loopback()
        settings = await make_settings(databases, data_dir, sock.getsockname()[1], **overrides)
        await populate(settings)
    else:
        sock = bind_loopback(settings.port)
    app = create_app(settings)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        yield Instance(settings=settings, app=app, server=server)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        sock.close()
