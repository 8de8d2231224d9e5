"""The single request layer (src/api/middleware.py) keeps every guarantee the separate
layers gave: CORS headers on the app's crashes and on refusals, one log line per crash,
security headers and the request id on whatever answers, chunked bodies counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.dependencies import get_database
from src.main import create_app
from tests.support.probe_routes import router
from tests.support.settings import make_settings

PROBLEM = "application/problem+json"
ORIGIN = "https://app.example.com"
CRASH = "/api/v1/_probe/crash"
ECHO = "/api/v1/_probe/echo"


@pytest.fixture
async def browser_app(app: FastAPI, database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """An app with CORS for one origin and the probe routes, on the test's database."""
    cors = create_app(make_settings(database_url, tmp_path, cors_origins=[ORIGIN]))
    cors.include_router(router)
    cors.dependency_overrides[get_database] = app.dependency_overrides[get_database]
    async with LifespanManager(cors):
        yield cors


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


def assert_secured_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.json()["type"] == f"/problems/{slug}"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]


def lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[dict[str, object]]:
    return [r.msg for r in caplog.records if r.name == logger and isinstance(r.msg, dict)]


async def test_an_app_crash_is_logged_once_and_browsers_can_read_its_problem(
    browser_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async with _client(browser_app) as api:
        response = await api.get(CRASH, headers={"Origin": ORIGIN, "X-Request-ID": "crash-1"})
    assert_secured_problem(response, 500, "internal-error")
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "secret" not in response.text
    [crash] = lines(caplog, "stockroom.error")
    assert crash["event"] == "unhandled_exception"
    assert crash["request_id"] == "crash-1"
    [access] = lines(caplog, "stockroom.access")
    assert (access["route"], access["status"], access["request_id"]) == (CRASH, 500, "crash-1")


async def test_a_declared_body_over_the_limit_carries_cors_and_security_headers(
    browser_app: FastAPI,
) -> None:
    async with _client(browser_app) as api:
        response = await api.post(
            ECHO, content=b"x" * (1024 * 1024 + 1), headers={"Origin": ORIGIN}
        )
    assert_secured_problem(response, 413, "payload-too-large")
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_a_chunked_body_over_the_limit_is_counted_and_refused(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    app.include_router(router)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * (256 * 1024)

    refused = await client.post(ECHO, content=chunks(), headers={"X-Request-ID": "chunked-1"})
    assert "content-length" not in refused.request.headers
    assert_secured_problem(refused, 413, "payload-too-large")
    assert refused.headers["x-request-id"] == "chunked-1"

    async def small() -> AsyncIterator[bytes]:
        yield b'{"name": "a", '
        yield b'"quantity": 2}'

    accepted = await client.post(
        ECHO, content=small(), headers={"Content-Type": "application/json"}
    )
    assert accepted.status_code == 200
    assert accepted.json() == {"name": "a", "quantity": 2}


@pytest.fixture
async def one_a_minute(app: FastAPI, database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """Built before the test body: building an app configures logging, dropping caplog's."""
    limited = create_app(make_settings(database_url, tmp_path, rate_limit_default="1/minute"))
    limited.include_router(router)
    limited.dependency_overrides[get_database] = app.dependency_overrides[get_database]
    async with LifespanManager(limited):
        yield limited


async def test_a_rate_limited_request_is_refused_before_the_app(
    one_a_minute: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async with _client(one_a_minute) as api:
        first = await api.get(CRASH)
        second = await api.get(CRASH)
    assert_secured_problem(first, 500, "internal-error")
    assert first.headers["ratelimit-remaining"] == "0"
    assert_secured_problem(second, 429, "rate-limited")
    assert second.headers["ratelimit-limit"] == "1"
    assert second.headers.get_list("ratelimit-remaining") == ["0"]
    # The refused request never reached the route: one crash logged, two access lines.
    assert len(lines(caplog, "stockroom.error")) == 1
    assert [line["status"] for line in lines(caplog, "stockroom.access")] == [500, 429]
