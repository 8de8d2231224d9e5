"""One transaction per request: committed before the response on success, rolled back on error."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.probe_routes import router


@pytest.fixture
async def app(app: FastAPI, connection: AsyncConnection) -> FastAPI:
    # A temporary table lives on this test's connection only and vanishes with it.
    await connection.execute(text("CREATE TEMP TABLE scratch (value int NOT NULL)"))
    app.include_router(router)
    return app


async def _values(connection: AsyncConnection) -> list[int]:
    rows = await connection.execute(text("SELECT value FROM scratch ORDER BY value"))
    return [row[0] for row in rows]


async def test_successful_request_commits(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    response = await client.post("/api/v1/_probe/scratch/1")
    assert response.status_code == 200
    assert await _values(connection) == [1]


async def test_domain_error_rolls_back(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    response = await client.post("/api/v1/_probe/scratch/2", params={"fail": "true"})
    assert response.status_code == 409
    assert await _values(connection) == []


async def test_validation_failure_writes_nothing(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    response = await client.post("/api/v1/_probe/scratch/not-a-number")
    assert response.status_code == 422
    assert await _values(connection) == []
