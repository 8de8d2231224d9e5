"""Safe requests (GET, HEAD) run without a transaction: a write attempted in one is a bug,
refused with a 500 before it reaches the database, never committed on its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from src.dependencies import SessionDep, UnitOfWorkDep
from src.main import create_app
from src.models.catalog import Location
from src.repositories.catalog import LocationRepository
from tests.support.servers import in_process
from tests.support.settings import make_settings

router = APIRouter(prefix="/api/v1/_read_only")
CODE = "READ-ONLY-PROBE"


@router.get("/orm")
async def orm_write(session: SessionDep) -> None:
    session.add(Location(code=CODE, name="orm"))
    await session.flush()


@router.get("/core")
async def core_write(session: SessionDep) -> None:
    await session.execute(insert(Location).values(code=CODE, name="core"))


@router.get("/text")
async def text_write(session: SessionDep) -> None:
    sql = "INSERT INTO locations (id, code, name) VALUES (gen_random_uuid(), :c, 'text')"
    await session.execute(text(sql), {"c": CODE})


@router.get("/lock")
async def row_lock(session: SessionDep) -> None:
    await session.execute(select(Location).with_for_update())


@router.get("/emit")
async def emit(work: UnitOfWorkDep) -> None:
    await work.emit("location.created", {"code": CODE})


@router.get("/read")
async def plain_read(session: SessionDep) -> dict[str, int]:
    found, _incoming = await LocationRepository(session).held(uuid.uuid4())
    one = await session.scalar(text("SELECT 1"))
    return {"on_hand": found, "one": int(one or 0)}


@pytest.fixture
async def client(own_database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(own_database_url, tmp_path))
    app.include_router(router)
    async with in_process(app) as client:
        yield client


async def test_a_write_in_a_get_fails_and_writes_nothing(
    client: httpx.AsyncClient, own_database_url: str
) -> None:
    for how in ("orm", "core", "text", "lock", "emit"):
        response = await client.get(f"/api/v1/_read_only/{how}")
        assert response.status_code == 500, how
        assert response.headers["content-type"].startswith("application/problem+json")
        head = await client.head(f"/api/v1/_read_only/{how}")
        assert head.status_code == 500, how
    engine = create_async_engine(own_database_url)
    try:
        async with engine.connect() as connection:
            written = await connection.scalar(
                text("SELECT count(*) FROM locations WHERE code = :c"), {"c": CODE}
            )
            events = await connection.scalar(text("SELECT count(*) FROM events"))
    finally:
        await engine.dispose()
    assert (written, events) == (0, 0)


async def test_plain_reads_pass(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/_read_only/read")
    assert response.status_code == 200
    assert response.json() == {"on_hand": 0, "one": 1}
