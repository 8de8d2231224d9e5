"""Database errors keep their meaning: only a lost or unreachable database is 503, only a
named, expected constraint is 409; any other failure is a 500 logged with its traceback."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.main import create_app
from tests.support.probe_routes import router
from tests.support.settings import make_settings

PROBLEM = "application/problem+json"


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def logged_errors(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == event
    ]


async def _levels(connection: AsyncConnection) -> int:
    return int((await connection.execute(text("SELECT count(*) FROM stock_levels"))).scalar_one())


@pytest.mark.parametrize("case", ["not-null", "foreign-key"])
async def test_an_unexpected_constraint_violation_is_a_logged_500(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    connection: AsyncConnection,
    case: str,
) -> None:
    before = await _levels(connection)
    response = await client.post(f"/api/v1/_probe/sql/{case}")
    body = assert_problem(response, 500, "internal-error")
    assert "stock_levels" not in response.text
    assert "INSERT" not in response.text
    [record] = logged_errors(caplog, "database_error")
    assert record.levelname == "ERROR"
    assert record.msg["exc_info"]  # type: ignore[index]
    assert record.msg["request_id"] == body["request_id"]  # type: ignore[index]
    assert not logged_errors(caplog, "unmapped_integrity_error")
    assert await _levels(connection) == before  # nothing written


async def test_a_known_constraint_violation_is_a_409(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.post("/api/v1/_probe/sql/known-unique")
    body = assert_problem(response, 409, "duplicate")
    assert body["detail"] == "A location with this code already exists"
    assert body["field"] == "code"
    assert body["errors"] == [{"loc": ["body", "code"], "msg": body["detail"], "type": "duplicate"}]
    assert "probe-dup" not in response.text.lower()
    assert not logged_errors(caplog, "database_error")


async def test_an_untranslated_integrity_error_without_a_name_is_a_500(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/_probe/integrity")
    assert_problem(response, 500, "internal-error")
    assert "secret_table" not in response.text
    assert "uq_x" not in response.text


@pytest.mark.parametrize("path", ["/api/v1/_probe/app-timeout", "/api/v1/_probe/app-os-error"])
async def test_timeouts_and_os_errors_of_the_app_are_500s_not_outages(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    response = await client.get(path)
    assert_problem(response, 500, "internal-error")
    assert "retry-after" not in response.headers
    assert "nonexistent" not in response.text
    assert logged_errors(caplog, "unhandled_exception")
    # The database is fine, and says so.
    assert (await client.get("/api/v1/_probe/select-one")).json() == {"one": 1}


async def test_a_lost_connection_is_a_503_and_the_next_request_works(
    committed_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    committed_app.include_router(router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=committed_app), base_url="http://t"
    ) as client:
        response = await client.post("/api/v1/_probe/sql/lost-connection")
        assert_problem(response, 503, "service-unavailable")
        assert response.headers["retry-after"] == "1"
        assert not logged_errors(caplog, "database_error")
        assert (await client.get("/api/v1/_probe/select-one")).json() == {"one": 1}


async def test_an_unreachable_database_is_a_503(tmp_path: Path) -> None:
    app = create_app(
        make_settings("postgresql://root@127.0.0.1:1/none", tmp_path, db_connect_timeout=2)
    )
    app.include_router(router)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.get("/api/v1/_probe/select-one")
        assert_problem(response, 503, "service-unavailable")
        assert response.headers["retry-after"] == "1"
        assert "127.0.0.1" not in response.text
        # The app itself keeps answering.
        assert (await client.get("/api/health")).status_code == 200
