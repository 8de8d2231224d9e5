"""The change feed: the event log, polling (`GET /api/v1/events`), the event streams, and
`stockroom feed rebase`. Most tests here need committed events, on a database of their own
(`feed_url`, `own_database_url`) or the shared committed one (`committed_client`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from src.models.user import Role
from tests.support.factories import CommittedLogin, Headers
from tests.support.settings import TEST_SECRET_KEY


@pytest.fixture
async def people(committed_login: CommittedLogin) -> tuple[Headers, Headers]:
    """A clerk and a manager, committed and logged in: (clerk, manager)."""
    return await committed_login(Role.CLERK), await committed_login(Role.MANAGER)


@pytest.fixture
async def own_engine(own_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(own_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, own_database_url: str, tmp_path: Path) -> None:
    """`stockroom` commands run by the test see the test's own database and key, and nothing
    of the environment the suite runs in."""
    for name in ("ENVIRONMENT", "REDIS_URL", "SECRET_KEY_PREVIOUS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", own_database_url)
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("STOCKROOM_DATA_DIR", str(tmp_path / "data"))
