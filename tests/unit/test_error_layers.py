"""Exceptions escaping the outer middleware layers still become secured 500 problems.

Nothing in the running service is known to fail there any more, so each layer is made to
fail on purpose with a stand-in (a rate limiter whose store raises, a broken outer layer).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from src.config import Environment, Settings
from src.main import create_app

PROBLEM = "application/problem+json"
SECRET = "Zq7-4hT_9wLp2vRx8nKc3mYb6jDf5gHs1aEu"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """Built before `caplog` is set up: building configures logging, which would drop it."""
    settings = Settings(
        environment=Environment.DEVELOPMENT,
        database_url="postgresql://app:pw@127.0.0.1:1/none",
        secret_key=SECRET,
        stockroom_data_dir=tmp_path,
        redis_url=None,
        _env_file=None,  # type: ignore[call-arg]
    )
    return create_app(settings)


class ExplodingLimiter:
    async def consume(self, *_: object) -> None:
        raise RuntimeError("counter store exploded: SELECT secret")


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


def assert_secured_500(response: httpx.Response) -> None:
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    body = response.json()
    assert body["type"] == "/problems/internal-error"
    assert body["request_id"] == response.headers["x-request-id"]
    assert "secret" not in response.text


async def test_an_error_in_the_rate_limit_layer_is_a_secured_problem(app: FastAPI) -> None:
    app.state.rate_limiter = ExplodingLimiter()
    async with _client(app) as client:
        response = await client.get("/api/v1/products", headers={"X-Request-ID": "outer-1"})
        # Paths the limiter does not cover are unaffected.
        assert (await client.get("/api/health")).status_code == 200
    assert_secured_500(response)
    assert response.json()["request_id"] == "outer-1"


async def test_an_error_outside_every_layer_is_still_a_secured_problem(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:

    def broken_layer(inner: object) -> object:
        async def layer(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                raise RuntimeError("outermost layer broke: SELECT secret")

        return layer

    app.add_middleware(broken_layer)  # type: ignore[arg-type]  # the outermost of all
    async with _client(app) as client:
        response = await client.get("/api/health")
    assert_secured_500(response)
    assert any("unhandled_exception" in str(record.msg) for record in caplog.records)
