"""Fresh, migrated databases for tests: SQLite files by default, PostgreSQL when asked.

Set FEDISUPPORT_TEST_DATABASE_URL=postgresql://user@host:port/postgres to run the suite on
PostgreSQL. Each test gets its own database, cloned from a template migrated once per run.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import uuid
from pathlib import Path

import asyncpg

from fedisupport.db import run_migrations
from fedisupport.settings import Settings, build_settings

PG_ADMIN_URL = os.environ.get("FEDISUPPORT_TEST_DATABASE_URL", "")


def using_postgres() -> bool:
    return PG_ADMIN_URL.startswith("postgres")


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


async def _pg_exec(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class DatabaseFactory:
    """Makes migrated databases quickly by copying a template."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.run_id = uuid.uuid4().hex[:8]
        self.counter = itertools.count(1)
        self.created: list[str] = []
        self.template: str | None = None

    def _settings_for(self, url: str, data_dir: Path) -> Settings:
        return build_settings({"domain": "template.test", "database_url": url}, data_dir)

    def prepare(self) -> None:
        if using_postgres():
            self.template = f"fs_tpl_{self.run_id}"
            asyncio.run(_pg_exec(f'CREATE DATABASE "{self.template}"'))
            self.created.append(self.template)
            run_migrations(self._settings_for(_pg_url(self.template), self.root))
        else:
            path = self.root / "template.db"
            run_migrations(self._settings_for(f"sqlite+aiosqlite:///{path}", self.root))
            self.template = str(path)

    def new_url(self, data_dir: Path) -> str:
        n = next(self.counter)
        if using_postgres():
            name = f"fs_{self.run_id}_{n}"
            asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
            self.created.append(name)
            return _pg_url(name)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / f"db{n}.sqlite"
        shutil.copyfile(self.template, path)
        return f"sqlite+aiosqlite:///{path}"

    async def anew_url(self, data_dir: Path) -> str:
        """Same as new_url, from inside a running event loop."""
        n = next(self.counter)
        if using_postgres():
            name = f"fs_{self.run_id}_{n}"
            await _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
            return _pg_url(name)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / f"db{n}.sqlite"
        shutil.copyfile(self.template, path)
        return f"sqlite+aiosqlite:///{path}"

    def cleanup(self) -> None:
        if using_postgres():
            async def drop_all() -> None:
                for name in reversed(self.created):
                    await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            asyncio.run(drop_all())
