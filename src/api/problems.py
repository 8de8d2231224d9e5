"""The one place where errors become RFC 9457 problem responses.

Domain exceptions carry their status and slug; routing and validation errors from FastAPI
are mapped here too, so every error a client sees has the same shape and a request id.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, cast

import asyncpg
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from src.api.routing import is_json_content_type
from src.core.db_errors import (
    EXPECTED_CONFLICTS,
    DatabaseUnreachable,
    is_connection_lost,
    sqlstate,
)
from src.core.exceptions import (
    PROBLEM_FOR_STATUS,
    DomainError,
    InsufficientScope,
    OAuthError,
    Unauthorized,
)
from src.core.input_limits import MAX_LISTED_ERRORS, NOT_JSON
from src.core.logging import get_logger
from src.repositories.base import violated_constraint
from src.schemas.base import INNER_LOC, PATTERN_RULES
from src.schemas.problem import Problem

_log = get_logger("stockroom.error")

PROBLEM_MEDIA_TYPE = "application/problem+json"


def current_request_id() -> str:
    return correlation_id.get() or ""


def problem_response(
    *,
    status: int,
    detail: str,
    instance: str,
    slug: str | None = None,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    kind = PROBLEM_FOR_STATUS.get(status)
    slug = slug or (kind.slug if kind else None)
    problem = Problem(
        # RFC 9457 §4.2.1: "about:blank" for a status that means nothing more than itself.
        type=f"/problems/{slug}" if slug else "about:blank",
        title=title or (kind.title if kind else HTTPStatus(status).phrase),
        status=status,
        detail=detail,
        instance=instance,
        request_id=current_request_id(),
        **(extra or {}),
    )
    return JSONResponse(
        problem.to_body(),
        status_code=status,
        headers=dict(headers) if headers else None,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def domain_error_handler(request: Request, error: Exception) -> JSONResponse:
    exc = cast(DomainError, error)
    if isinstance(exc, OAuthError):
        # RFC 6749 §5.2: OAuth2 client libraries parse this shape, not a problem document.
        return JSONResponse(
            {"error": exc.error, "error_description": exc.detail},
            status_code=exc.status,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers},
        )
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = (
            'Bearer error="invalid_token"' if exc.invalid_token else "Bearer"
        )
    elif isinstance(exc, InsufficientScope):  # RFC 6750 §3.1
        headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{exc.scope}"'
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        extra=exc.extra,
        headers=headers or None,
    )


async def http_error_handler(request: Request, error: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, error)
    status = exc.status_code
    if status == 404:
        detail = f"No resource at {request.url.path}"
    elif status == 405:
        detail = f"Method {request.method} is not allowed on {request.url.path}"
        # One route per method: Starlette names only the first match in Allow; list them all.
        headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return problem_response(
            status=status, detail=detail, instance=request.url.path, headers=headers
        )
    else:
        detail = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
    return problem_response(
        status=status, detail=detail, instance=request.url.path, headers=exc.headers
    )


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    pending = list(request.app.router.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            pending.extend(included.routes)
            continue
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:  # PARTIAL: the path matches, the method does not
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _message(error: Mapping[str, Any]) -> str:
    """A validation error's message as a sentence: a pattern mismatch says the rule the
    pattern states (`PATTERN_RULES`), not pydantic's "should match pattern '<regex>'"."""
    if error.get("type") == "string_pattern_mismatch":
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        return PATTERN_RULES.get(pattern, "does not have the form the API description gives")
    return str(error.get("msg", "")).removeprefix("Value error, ")


async def validation_error_handler(request: Request, error: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, error)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(status=400, detail=NOT_JSON, instance=request.url.path)
    body_error = any(e.get("loc", ("",))[0] == "body" for e in errors)
    content_type = request.headers.get("content-type")
    sent_body = bool(await request.body())
    if body_error and sent_body and not is_json_content_type(content_type):
        return problem_response(
            status=400,
            detail="The request body must be JSON (Content-Type: application/json)",
            instance=request.url.path,
        )
    # Never echo "input": it may hold a password the client just sent. At most
    # MAX_LISTED_ERRORS: the answer's size stays bounded whatever was sent.
    issues = [
        {
            "loc": [*e.get("loc", ()), *(e.get("ctx") or {}).get(INNER_LOC, ())],
            "msg": _message(e),
            "type": str(e["type"]),
        }
        for e in errors[:MAX_LISTED_ERRORS]
    ]
    extra: dict[str, Any] = {"errors": issues}
    if len(errors) > MAX_LISTED_ERRORS:
        extra["errors_truncated"] = len(errors) - MAX_LISTED_ERRORS
    return problem_response(
        status=422,
        detail="The request is not valid; see errors",
        instance=request.url.path,
        extra=extra,
    )


async def database_error_handler(request: Request, error: Exception) -> JSONResponse:
    """Database errors by what they mean (`src.core.db_errors`): a lost or unreachable
    database is a 503 (retry), a named, expected constraint a 409, a value the database
    cannot store (SQLSTATE class 22: NUL characters, values out of range) the client's bad
    input (422); anything else is a bug: a 500, logged with its traceback. No SQL leaks out."""
    path = request.url.path
    if is_connection_lost(error):
        _log.warning("database_unavailable", path=path, error=type(error).__name__)
        return problem_response(
            status=503,
            detail="The database is unavailable; retry shortly",
            instance=path,
            headers={"Retry-After": "1"},
        )
    if isinstance(error, IntegrityError):
        constraint = violated_constraint(error)
        conflict = EXPECTED_CONFLICTS.get(constraint or "")
        if conflict is not None:
            _log.info("constraint_conflict", path=path, constraint=constraint)
            return await domain_error_handler(request, conflict())
    state = sqlstate(error)
    if state and state.startswith("22"):
        return problem_response(
            status=422,
            detail="A value in the request cannot be stored (out of range or invalid text)",
            instance=path,
        )
    _log.error("database_error", path=path, error=type(error).__name__, exc_info=error)
    return problem_response(
        status=500,
        detail="An unexpected error occurred; quote the request id when reporting it",
        instance=path,
    )


async def pool_timeout_handler(request: Request, error: Exception) -> JSONResponse:
    """No pooled connection came free in DB_POOL_TIMEOUT: the database is too busy, retry."""
    _log.warning("database_pool_exhausted", path=request.url.path)
    return problem_response(
        status=503,
        detail="The database is unavailable; retry shortly",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


def install_exception_handlers(app: FastAPI) -> None:
    for database_error in (DBAPIError, asyncpg.PostgresError, DatabaseUnreachable):
        app.add_exception_handler(database_error, database_error_handler)
    app.add_exception_handler(SATimeoutError, pool_timeout_handler)
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
