"""RATE_LIMIT_DEFAULT: every /api/v1 request counts against its user (or client address)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.dependencies import get_database
from src.main import create_app
from src.models.user import User
from tests.support.factories import login_headers
from tests.support.settings import make_settings

ME = "/api/v1/users/me"


def _limited(app: FastAPI, database_url: str, tmp_path: Path, **settings: object) -> FastAPI:
    limited = create_app(
        make_settings(database_url, tmp_path, rate_limit_default="3/minute", **settings)
    )
    limited.dependency_overrides[get_database] = app.dependency_overrides[get_database]
    return limited


@pytest.fixture
async def limited(app: FastAPI, database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    limited = _limited(app, database_url, tmp_path)
    async with LifespanManager(limited):
        yield limited


def _client(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 1)), base_url="http://t"
    )


async def test_each_user_has_a_budget_with_ratelimit_headers(
    limited: FastAPI, client: httpx.AsyncClient, viewer: User, admin: User
) -> None:
    viewer_headers = await login_headers(client, viewer)
    admin_headers = await login_headers(client, admin)
    async with _client(limited) as api:
        answers = [await api.get(ME, headers=viewer_headers) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["ratelimit-remaining"] for r in answers[:3]] == ["2", "1", "0"]
        assert answers[0].headers["ratelimit-limit"] == "3"
        refused = answers[3]
        assert refused.json()["type"] == "/problems/rate-limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Another user from the same address has a budget of their own.
        assert (await api.get(ME, headers=admin_headers)).status_code == 200


async def test_anonymous_callers_are_counted_by_address(limited: FastAPI) -> None:
    async with _client(limited, "10.9.8.7") as first, _client(limited, "10.9.8.6") as second:
        statuses = [(await first.get("/api/v1/products")).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        assert (await second.get("/api/v1/products")).status_code == 401
        # A forged token does not buy a fresh budget.
        forged = {"Authorization": "Bearer forged.token.value"}
        assert (await first.get(ME, headers=forged)).status_code == 429


async def test_operations_endpoints_are_not_limited(limited: FastAPI) -> None:
    async with _client(limited) as api:
        for _ in range(5):
            assert (await api.get("/api/health")).status_code == 200
        assert (await api.get("/metrics")).status_code == 200


async def test_traffic_passes_when_the_counter_store_is_down(
    app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    down = _limited(app, database_url, tmp_path, redis_url="redis://127.0.0.1:1/0")
    async with LifespanManager(down), _client(down) as api:
        statuses = [(await api.get("/api/v1/products")).status_code for _ in range(5)]
    assert statuses == [401] * 5
