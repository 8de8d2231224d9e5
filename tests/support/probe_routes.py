"""Routes mounted only in tests, to drive cross-cutting behaviour (errors, bodies, commits)."""

from __future__ import annotations

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
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connect to 10.0.0.5"))


@router.post("/scratch/{value}")
async def write_scratch(value: int, session: SessionDep, fail: bool = False) -> dict[str, int]:
    await session.execute(text("INSERT INTO scratch (value) VALUES (:v)"), {"v": value})
    if fail:
        raise exceptions.Conflict("rolled back on purpose")
    return {"value": value}
