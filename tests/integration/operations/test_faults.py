"""Faults a production service meets: PostgreSQL restarting under it, Redis going away.

A dedicated embedded PostgreSQL is stopped and started again under the running app: during
the outage requests answer 503 problems quickly (never hang), readiness is 503, and the app
recovers by itself afterwards with every posting either fully there or absent.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from src.cli.embedded import EmbeddedPostgres
from src.core import migrations
from src.main import create_app
from src.models.user import Role, User
from tests.support.factories import DEFAULT_PASSWORD, committed_users, login_headers
from tests.support.servers import served
from tests.support.settings import TEST_SECRET_KEY, make_settings
from tests.support.stock import new_location, new_product, on_hand, post_movement

# The service's default Argon2 cost, for a serve process whose logins must take real time.
FULL_HASH_COST = {"PASSWORD_HASH_MEMORY_KIB": "65536", "PASSWORD_HASH_TIME_COST": "3"}


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg")
    migrations.upgrade(server.start())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def api(own_server: EmbeddedPostgres, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = own_server.url("stockroom")
    app = create_app(make_settings(url, tmp_path, db_connect_timeout=2, db_pool_timeout=2))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


@pytest.mark.slow
async def test_postgres_restart_gives_fast_503s_then_recovers(
    own_server: EmbeddedPostgres, api: httpx.AsyncClient
) -> None:
    (manager,) = await committed_users(own_server.url("stockroom"), Role.MANAGER)
    headers = await login_headers(api, manager)
    product = await new_product(api, headers)
    location = await new_location(api, headers)
    assert (await post_movement(api, headers, product, location, "receipt", 5)).status_code == 201

    await asyncio.to_thread(own_server.stop)
    started = time.monotonic()
    during = await post_movement(api, headers, product, location, "receipt", 7)
    ready = await api.get("/api/health/ready")
    assert time.monotonic() - started < 10, "requests must not hang during the outage"
    assert during.status_code == 503
    assert during.json()["type"] == "/problems/service-unavailable"
    assert during.headers["retry-after"]
    assert ready.status_code == 503
    assert (await api.get("/api/health")).status_code == 200

    await asyncio.to_thread(own_server.start)
    # The failures during the outage invalidated the pool: the next requests simply work.
    recovered = await post_movement(api, headers, product, location, "receipt", 2)
    assert recovered.status_code == 201
    assert (await api.get("/api/health/ready")).status_code == 200
    # The posting made during the outage is absent, not half-written.
    assert await on_hand(api, headers, product, location) == 7

    # A restart no request noticed: the pooled connections are dead, and there is no pre-ping
    # (it would cost three round trips per request). The first use finds out, answers 503
    # (retryable, like any outage), invalidates the pool, and the next request works.
    await asyncio.to_thread(own_server.stop)
    await asyncio.to_thread(own_server.start)
    statuses = [
        (await post_movement(api, headers, product, location, "receipt", 1)).status_code
        for _ in range(2)
    ]
    assert statuses in ([201, 201], [503, 201])
    assert await on_hand(api, headers, product, location) == 7 + statuses.count(201)


async def test_redis_down_makes_readiness_503_and_logins_fail_closed(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    url = own_server.url("stockroom")
    (user,) = await committed_users(url, Role.CLERK)
    app = create_app(
        make_settings(url, tmp_path, redis_url="redis://127.0.0.1:1/0", db_connect_timeout=2)
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as api,
    ):
        ready = await api.get("/api/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["status"] == "down"
        login = await api.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": user.email, "password": "whatever-it-is"},
        )
        assert login.status_code == 503
        assert login.json()["type"] == "/problems/service-unavailable"
        # Everything else keeps working (the general rate limit fails open).
        assert (await api.get("/api/v1/products")).status_code == 401


@pytest.mark.server
@pytest.mark.slow
async def test_sigterm_finishes_in_flight_requests_and_closes_streams(
    committed_database_url: str, committed_make_user: Callable[..., Awaitable[User]], tmp_path: Path
) -> None:
    # At the default Argon2 cost a login takes real time, so one is running when SIGTERM lands.
    user = await committed_make_user(role=Role.CLERK, full_cost=True)
    async with served(
        committed_database_url, tmp_path / "data", TEST_SECRET_KEY, env=FULL_HASH_COST
    ) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            token = (
                await client.post(
                    "/api/v1/auth/token",
                    data={
                        "grant_type": "password",
                        "username": user.email,
                        "password": DEFAULT_PASSWORD,
                    },
                )
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with client.stream("GET", "/api/v1/stock/events", headers=headers) as events:
                assert events.status_code == 200
                # A login takes ~0.1 s of Argon2: it is still running when SIGTERM lands.
                login = asyncio.create_task(
                    client.post(
                        "/api/v1/auth/token",
                        data={
                            "grant_type": "password",
                            "username": user.email,
                            "password": DEFAULT_PASSWORD,
                        },
                    )
                )
                await asyncio.sleep(0.03)
                server.process.send_signal(signal.SIGTERM)
                assert (await login).status_code == 200
                async with asyncio.timeout(20):
                    async for _ in events.aiter_lines():
                        pass  # ends cleanly: no exception from a cut-off stream
        assert await asyncio.to_thread(server.process.wait, 30) == 0
