"""The async engine, the session factory and the checks the server makes before it starts."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import AsyncIterator

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
