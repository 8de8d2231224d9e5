"""Routes mounted only in tests, to drive cross-cutting behaviour (errors, bodies, commits)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from src.core import exceptions
from src.dependencies import SessionDep
from src.schemas.base import InputSchema

router = APIRouter(prefix="/api/v1/_probe")

DOMAIN_ERRORS: dict[str, exceptions.DomainError] = {
    "unauthorized": exceptions.Unauthorized("token expired"),
    "forbidden": exceptions.Forbidden("clerks only"),
    "not-found": exceptions.NotFound("no such product"),
    "conflict": exceptions.Conflict("sku taken"),
    "precondition-failed": exceptions.PreconditionFailed("stale ETag"),
    "precondition-required": exceptions.PreconditionRequired("If-Match required"),
    "rate-limited": exceptions.RateLimited("slow down", retry_after=7),
    "malformed-request": exceptions.MalformedRequest("bad cursor"),
    "payload-too-large": exceptions.PayloadTooLarge(),
    "service-unavailable": exceptions.ServiceUnavailable("database down"),
}


class Echo(InputSchema):
    name: str
    quantity: int


@router.post("/echo")
async def echo(body: Echo) -> Echo:
    return body


@router.get("/domain/{slug}")
async def domain(slug: str) -> None:
    raise DOMAIN_ERRORS[slug]


@router.get("/crash")
async def crash() -> None:
    raise RuntimeError("SELECT secret FROM /srv/app/internal.py")


@router.get("/integrity")
async def integrity() -> None:
    raise IntegrityError("INSERT INTO secret_table", {}, Exception("duplicate key uq_x"))


@router.get("/database-down")
async def database_down() -> None:
    raise OperationalError(
        "SELECT 1", {}, ConnectionRefusedError("connect to 10.0.0.5"), connection_invalidated=True
    )


# Statements that break the database's rules in ways no service translates (bugs: 500), one
# it expects (a named unique constraint: 409), and one that loses the connection (503).
FAULTY_SQL = {
    "not-null": "INSERT INTO stock_levels (product_id, location_id, on_hand) "
    "VALUES (NULL, NULL, 0)",
    "foreign-key": "INSERT INTO stock_levels (product_id, location_id, on_hand) "
    "VALUES (gen_random_uuid(), gen_random_uuid(), 0)",
    "known-unique": "INSERT INTO locations (id, code, name) "
    "VALUES (gen_random_uuid(), 'PROBE-DUP', 'one'), (gen_random_uuid(), 'probe-dup', 'two')",
    "lost-connection": "SELECT pg_terminate_backend(pg_backend_pid())",
}


@router.post("/sql/{case}")
async def faulty_sql(case: str, session: SessionDep) -> dict[str, int]:
    await session.execute(text(FAULTY_SQL[case]))
    return {"done": 1}


@router.get("/select-one")
async def select_one(session: SessionDep) -> dict[str, int]:
    return {"one": int((await session.execute(text("SELECT 1"))).scalar_one())}


@router.get("/app-timeout")
async def app_timeout() -> None:
    """A TimeoutError of the application's own (not the database's): a bug, not an outage."""
    async with asyncio.timeout(0):
        await asyncio.sleep(1)


@router.get("/app-os-error")
def app_os_error() -> None:  # plain def: FastAPI runs it in a thread
    Path("/nonexistent/stockroom-probe").read_text()


@router.post("/scratch/{value}")
async def write_scratch(value: int, session: SessionDep, fail: bool = False) -> dict[str, int]:
    await session.execute(text("INSERT INTO scratch (value) VALUES (:v)"), {"v": value})
    if fail:
        raise exceptions.Conflict("rolled back on purpose")
    return {"value": value}
