"""Suite-wide fixtures.

One PostgreSQL per process (TEST_DATABASE_URL's server, or a throwaway embedded one), one
fresh database built with `alembic upgrade head`, and per test a connection whose outer
transaction is rolled back: the app's sessions join it through savepoints, so every test
sees a clean database while still exercising the app's own commit/rollback code.

The suite runs in pytest-xdist workers (`-n` in pyproject's addopts), each a process with
its own embedded cluster, not only its own database: the change feed's visibility follows the
oldest open transaction of the whole cluster, and every test holds one, so workers on one
server would hold back each other's feed, stream and webhook tests. For the same reason a run
against TEST_DATABASE_URL's one server is serial.
"""

from __future__ import annotations

import compileall
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from src.config import Settings
from src.core.database import Database, build_session_factory
from src.dependencies import get_database
from src.main import create_app
from tests.support.databases import TestServer, hold_statistics, test_server
from tests.support.logs import lines_to
from tests.support.servers import PROJECT_ROOT, in_process
from tests.support.settings import make_settings

# The rate limits' counts of this run and worker stay apart from other workers' and runs'
# in a shared Redis. Through the environment, so the servers the tests start get it too.
os.environ.setdefault(
    "REDIS_KEY_PREFIX",
    f"stockroom-test:{os.environ.get('PYTEST_XDIST_WORKER', 'main')}:{uuid.uuid4().hex[:8]}",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile src once, before any worker starts: where PYTHONDONTWRITEBYTECODE is set, each
    server or CLI process the tests start would otherwise compile it again (most of a
    second each). The bytecode goes to src's __pycache__ directories, which git ignores."""
    if not hasattr(session.config, "workerinput"):
        compileall.compile_dir(PROJECT_ROOT / "src", quiet=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts a server process takes seconds: `server` implies `slow`."""
    for item in items:
        if item.get_closest_marker("server") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """One process against TEST_DATABASE_URL: workers sharing one server would hold back
    each other's change feed (see the module docstring)."""
    if os.environ.get("TEST_DATABASE_URL") and getattr(config.option, "numprocesses", None):
        config.option.numprocesses = 0


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TestServer]:
    with test_server(os.environ.get("TEST_DATABASE_URL")) as server:
        yield server


@pytest.fixture(scope="session")
def database_url(pg_server: TestServer) -> Iterator[str]:
    with pg_server.migrated_database("stockroom_test") as url:
        hold_statistics(url)
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: tests that need a real Redis are skipped")
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
def app(settings: Settings, connection: AsyncConnection) -> FastAPI:
    app = create_app(settings)
    factory = build_session_factory(connection.engine)
    factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    app.dependency_overrides[get_database] = lambda: Database(connection.engine, factory)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app) as client:
        yield client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Stockroom's own log lines reach `caplog` too (tests/support/logs.py)."""
    caplog = getattr(item, "funcargs", {}).get("caplog")
    if caplog is None:
        return (yield)
    with lines_to(caplog.handler):
        return (yield)
