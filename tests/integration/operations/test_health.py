"""Liveness and readiness, including dependencies that are down."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pytest_mock import MockerFixture

from src.main import create_app
from tests.support.settings import make_settings

# Nothing listens on port 1; connecting there fails at once.
DEAD_DATABASE = "postgresql+asyncpg://nobody@127.0.0.1:1/nothing"
DEAD_REDIS = "redis://127.0.0.1:1/0"


async def test_liveness(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_reports_database_latency(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert body["checks"]["redis"] == {"status": "disabled"}


async def _client_for(tmp_path: Path, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(DEAD_DATABASE, tmp_path, db_connect_timeout=2, **overrides))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


@pytest.fixture
async def dead_db_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client_for(tmp_path):
        yield client


async def test_readiness_is_503_problem_when_database_is_down(
    dead_db_client: httpx.AsyncClient,
) -> None:
    response = await dead_db_client.get("/api/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/service-unavailable"
    assert body["checks"]["database"]["status"] == "down"
    assert "127.0.0.1" not in response.text  # no DSN in the answer


async def test_liveness_stays_up_when_database_is_down(dead_db_client: httpx.AsyncClient) -> None:
    response = await dead_db_client.get("/api/health")
    assert response.status_code == 200


async def test_readiness_is_503_when_configured_redis_is_down(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(database_url, tmp_path, redis_url=DEAD_REDIS))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.get("/api/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "down"


@pytest.mark.redis
async def test_readiness_checks_real_redis(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(database_url, tmp_path, redis_url=redis_url))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.get("/api/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["status"] == "ok"


async def test_only_the_servers_own_app_freezes_the_collector(
    mocker: MockerFixture, tmp_path: Path
) -> None:
    freeze = mocker.patch("src.main.gc.freeze")
    threshold = mocker.patch("src.main.gc.set_threshold")
    # The factory uvicorn calls (no settings) reads the environment.
    mocker.patch("src.main.get_settings", return_value=make_settings(DEAD_DATABASE, tmp_path))
    async with LifespanManager(create_app()):
        pass
    freeze.assert_called_once()
    young, *older = threshold.call_args.args
    assert young == 20_000
    assert older == list(gc.get_threshold()[1:])  # the older generations keep theirs
    # An app built with explicit settings (tests, tools) leaves the process alone.
    async with LifespanManager(create_app(make_settings(DEAD_DATABASE, tmp_path))):
        pass
    freeze.assert_called_once()
    threshold.assert_called_once()
