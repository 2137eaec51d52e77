from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.databases import DatabaseFactory, using_postgres
from tests.support.instances import running_instance


def pytest_report_header(config) -> str:
    return "database: " + ("PostgreSQL (FEDISUPPORT_TEST_DATABASE_URL)" if using_postgres() else "SQLite")


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> DatabaseFactory:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    factory.prepare()
    yield factory
    factory.cleanup()


@pytest.fixture
def start_instance(databases, tmp_path: Path):
    """`async with start_instance() as inst:` — a real server on a loopback port."""
    counter = iter(range(1, 100))

    def start(settings=None, **overrides):
        return running_instance(databases, tmp_path / f"instance{next(counter)}", settings, **overrides)

    return start


@pytest.fixture
async def instance(start_instance):
    async with start_instance() as inst:
        yield inst

