"""The async engine, the session factory and the checks the server makes before it starts."""
from __future__ import annotations

import asyncio
import contextlib
import weakref
from pathlib import Path
from typing import Any, AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .settings import ConfigError, Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers work while the single writer commits; NORMAL sync is durable in WAL
    # mode across application crashes; the busy timeout turns lock contention into waiting
    # rather than "database is locked" errors.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-32000")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 10})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextlib.asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with sessions() as session:
        async with session.begin():
            yield session


_SQLITE_WRITE_LOCKS: "weakref.WeakKeyDictionary[Any, asyncio.Lock]" = weakref.WeakKeyDictionary()


def sqlite_write_lock(engine: AsyncEngine) -> contextlib.AbstractAsyncContextManager:
    """On SQLite, one write transaction at a time per process, queued in arrival order.

    SQLite has one write lock; connections that wait for it sleep in its busy handler (polls of
    1 to 100 ms) instead of waking when it is free. Writers of this process (the inbox writer, the
    worker) queue here instead. PostgreSQL locks rows, so there this does nothing.
    """
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    lock = _SQLITE_WRITE_LOCKS.get(engine.sync_engine)
    if lock is None:
        lock = _SQLITE_WRITE_LOCKS[engine.sync_engine] = asyncio.Lock()
    return lock


@contextlib.asynccontextmanager
async def write_transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A transaction that reads and then writes: commit on success, roll back on any error.

    On SQLite it takes the write lock at its start (BEGIN IMMEDIATE): a deferred transaction that
    read first fails at once with "database is locked" when another writer committed meanwhile.
    """
    async with sessions() as session:
        engine = session.bind
        async with sqlite_write_lock(engine):
            async with session.begin():
                if engine.dialect.name == "sqlite":
                    await session.execute(text("BEGIN IMMEDIATE"))
                yield session


def batch_memo(session: AsyncSession, name: str) -> dict | None:
    """Reads shared by the activities of one inbox batch (`inbox/batch.py`), by kind; None outside one.

    The batch empties it whenever an activity could have changed what it holds.
    """
    memo = session.info.get("batch_memo")
    return None if memo is None else memo.setdefault(name, {})


def alembic_config(settings: Settings):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    cfg.attributes["settings"] = settings
    return cfg


def head_revision(settings: Settings) -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def run_migrations(settings: Settings) -> None:
    """Bring the database schema to the newest migration (synchronous; run from the CLI)."""
    from alembic import command

    command.upgrade(alembic_config(settings), "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except Exception:
            return None
        row = result.first()
        return row[0] if row else None


async def check_schema(engine: AsyncEngine, settings: Settings) -> None:
    """Refuse to run against a database that is not at the newest migration."""
    try:
        revision = await current_revision(engine)
    except OSError as exc:
        raise ConfigError(f"cannot reach the database ({exc}): check DATABASE_URL") from None
    except Exception as exc:  # driver-specific connection errors
        raise ConfigError(f"cannot open the database: {type(exc).__name__}: {exc}. Check DATABASE_URL") from None
    head = head_revision(settings)
    if revision is None:
        raise ConfigError("the database has no tables yet: run `fedisupport migrate` (or `fedisupport init`)")
    if revision != head:
        raise ConfigError(f"the database is at migration {revision}, this version needs {head}: run `fedisupport migrate`")
