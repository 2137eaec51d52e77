"""The schema the models describe and the one the migrations build must never drift apart."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from fedisupport import db
from fedisupport.models import Base
from fedisupport.settings import ConfigError, build_settings
from tests.support.databases import using_postgres


async def test_models_and_migrations_agree(databases, tmp_path):
    settings = build_settings({"domain": "a.test", "database_url": await databases.anew_url(tmp_path)}, tmp_path)
    engine = db.create_engine(settings)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync_conn: compare_metadata(MigrationContext.configure(sync_conn, opts={"compare_type": True}), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


async def test_server_refuses_an_unmigrated_database(tmp_path):
    settings = build_settings({"domain": "a.test"}, tmp_path)
    engine = db.create_engine(settings)
    try:
        with pytest.raises(ConfigError, match="run `fedisupport migrate`"):
            await db.check_schema(engine, settings)
    finally:
        await engine.dispose()


async def test_server_refuses_an_older_schema(databases, tmp_path):
    settings = build_settings({"domain": "a.test", "database_url": await databases.anew_url(tmp_path)}, tmp_path)
    engine = db.create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
        with pytest.raises(ConfigError, match="is at migration 0000.*fedisupport migrate"):
            await db.check_schema(engine, settings)
    finally:
        await engine.dispose()


@pytest.mark.skipif(using_postgres(), reason="SQLite pragmas")
async def test_sqlite_runs_in_wal_mode_with_foreign_keys(databases, tmp_path):
    settings = build_settings({"domain": "a.test", "database_url": await databases.anew_url(tmp_path)}, tmp_path)
    engine = db.create_engine(settings)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 10000
    finally:
        await engine.dispose()
