"""The web console: served in-process (test_console.py) and driven in headless Chromium by
the browser tests, which share one session-scoped `console` (tests/support/console.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.console import ConsoleSite, console_site
from tests.support.databases import TestServer


@pytest.fixture(scope="session")
def console_database_url(pg_server: TestServer) -> Iterator[str]:
    with pg_server.migrated_database("stockroom_console") as url:
        yield url


@pytest.fixture(scope="session")
async def console(
    console_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ConsoleSite]:
    """The console served with the API and from two other origins, and a browser, shared
    by the browser tests, which make their own users and stock (tests/support/console.py)."""
    async with console_site(console_database_url, tmp_path_factory.mktemp("console")) as site:
        yield site
