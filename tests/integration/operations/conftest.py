"""Running the service: health, metrics, migrations, the CLI and the embedded server,
transactions and database errors, PgBouncer, idempotency keys, background work, round trips
to PostgreSQL (`counted`) and the query plans of the lists (`no_seqscan`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.scopes import Scope
from src.main import create_app
from src.models.user import Role
from tests.support.actors import committed_api_client
from tests.support.clients import client_bearer
from tests.support.factories import committed_users, login_headers
from tests.support.pgproxy import round_trip_proxy
from tests.support.round_trips import Counted
from tests.support.servers import in_process
from tests.support.settings import make_settings
from tests.support.stock import new_location, new_product, receive

FAR = 86_400.0  # seconds: background loops that must not run during a count


@pytest.fixture
async def no_seqscan(connection: AsyncConnection) -> AsyncConnection:
    """The test's connection with sequential scans off: test tables are tiny, so the planner
    would otherwise scan them whatever the indexes (tests/support/plans.py)."""
    await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return connection


@pytest.fixture
async def counted(own_database_url: str, tmp_path: Path) -> AsyncIterator[Counted]:
    """An app on a database of the test's own, reached through a proxy that counts round
    trips, with one pooled connection, a clerk, a manager, an API client that may post stock
    and a stocked product."""
    manager, clerk = await committed_users(own_database_url, Role.MANAGER, Role.CLERK)
    system, system_headers = await committed_api_client(
        own_database_url, tmp_path, scopes=(Scope.STOCK_READ, Scope.STOCK_WRITE), name="ERP"
    )
    async with round_trip_proxy(own_database_url) as proxy:
        settings = make_settings(
            proxy.url_through(own_database_url),
            tmp_path,
            database_listen_url=own_database_url,
            db_pool_size=1,
            idempotency_purge_interval_seconds=FAR,
            refresh_session_purge_interval_seconds=FAR,
            events_purge_interval_seconds=FAR,
            events_lag_interval_seconds=FAR,
            # At most an hour: the sweeper would otherwise take the one pooled connection
            # (and add its statements to a count) every 5 s of a slow run.
            reservation_sweep_seconds=3600,
        )
        app = create_app(settings)
        async with in_process(app) as client:
            manager_headers = await login_headers(client, manager)
            product = await new_product(client, manager_headers, reorder_point=5)
            location = await new_location(client, manager_headers)
            await receive(client, await login_headers(client, clerk), product, location, 3)
            clerk_headers = await login_headers(client, clerk)
            yield Counted(
                client,
                proxy,
                clerk_headers,
                product,
                location,
                manager_headers,
                system_headers,
                client_bearer(app, system, [Scope.STOCK_READ]),
            )
