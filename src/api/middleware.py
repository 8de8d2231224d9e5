"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers and breaks streaming responses).

Order, outermost first, as `create_app` installs it: request id -> security headers ->
unhandled errors -> access log -> CORS -> rate limit -> body limit -> unhandled errors -> HEAD
as GET (`src/api/head.py`) -> the app. Security headers wrap every layer that can answer on
its own (CORS preflights, 429s, 413s), and the outer error guard turns anything escaping
those layers into a problem; the inner guard answers the app's own crashes inside CORS, so
browsers can read them. Starlette's ServerErrorMiddleware, outside them all, renders a
secured problem too (`last_resort_handler`).
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from asgi_correlation_id import correlation_id
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.api.problems import current_request_id, problem_response
from src.api.v1.prefix import API_V1
from src.core.logging import redact_query
from src.core.metrics import UNMATCHED_ROUTE, observe_pool, observe_request
from src.core.ratelimit import Limit
from src.core.tokens import InvalidToken, TokenCodec

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

access_log = structlog.stdlib.get_logger("stockroom.access")
error_log = structlog.stdlib.get_logger("stockroom.error")


def is_sane_request_id(value: str) -> bool:
    """The contract's rule for echoing a caller's X-Request-ID (anything else is replaced)."""
    return _REQUEST_ID.fullmatch(value) is not None


def new_request_id() -> str:
    return str(uuid.uuid4())


class AccessLogMiddleware:
    """Binds the request id to every log line and writes one access line per request: the
    route template and the query, with credentials (stream tickets) redacted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=current_request_id())
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_label(scope)
            elapsed = time.perf_counter() - start
            observe_request(scope["method"], route, status, elapsed)
            _observe_pool(scope)
            query = scope.get("query_string", b"")
            access_log.info(
                "request",
                method=scope["method"],
                route=route,
                **({"query": redact_query(query)} if query else {}),
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


def _route_label(scope: Scope) -> str:
    """The template of the route that handled the request (a 405 included), else one fixed
    label: a request answered before or without a match (404, slash redirect, CORS
    preflight) must not put its arbitrary path into a metric series."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        # FastAPI's own pages (docs, openapi.json) record only their endpoint.
        for candidate in scope["app"].router.routes:
            if getattr(candidate, "endpoint", None) is endpoint:
                return str(candidate.path)
    return UNMATCHED_ROUTE


def _observe_pool(scope: Scope) -> None:
    database = getattr(getattr(scope.get("app"), "state", None), "db", None)
    pool = getattr(getattr(database, "engine", None), "pool", None)
    if pool is not None and hasattr(pool, "checkedout"):
        observe_pool(pool.checkedout(), pool.checkedin())


def security_headers(*, hsts: bool) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        # frame-ancestors only for JSON answers; the HTML pages (/docs, /problems/{slug})
        # send a stricter policy of their own, which this layer leaves in place.
        "Content-Security-Policy": "frame-ancestors 'none'",
    }
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


class SecurityHeadersMiddleware:
    """Static hardening headers. Four constant headers do not justify another dependency."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = security_headers(hsts=hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_wrapper)


class RateLimitMiddleware:
    """RATE_LIMIT_DEFAULT on every /api/v1 request, keyed by the user a valid bearer token
    names, else by client address; RateLimit-* headers on every answer, 429 beyond.

    The token is only verified here (no database read): a forged one falls back to the
    client address. If the counter storage is down, traffic passes; only logins fail closed.
    """

    def __init__(self, app: ASGIApp, *, limit: Limit, prefix: str = API_V1) -> None:
        self.app = app
        self.limit = limit
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        status = await state.rate_limiter.consume(self.limit, _caller(scope, state.tokens))
        if status is None:
            await self.app(scope, receive, send)
            return
        if not status.allowed:
            response = problem_response(
                status=429,
                detail="Too many requests; slow down",
                instance=scope["path"],
                headers={**status.headers(), "Retry-After": str(status.reset_in)},
            )
            await response(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in status.headers().items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _caller(scope: Scope, tokens: TokenCodec) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                try:
                    return f"user:{tokens.decode_access(token.strip()).subject}"
                except InvalidToken:
                    break
    client = scope.get("client")
    return f"client:{client[0] if client else 'unknown'}"


class BodySizeLimitMiddleware:
    """Answers 413 for bodies over the limit, before routing when Content-Length says so.

    Chunked bodies are counted as they arrive; the HTTPException raised from `receive`
    reaches FastAPI's exception handlers, which render it as a problem.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = problem_response(
                status=413,
                detail=f"The request body exceeds {self.max_bytes} bytes",
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise StarletteHTTPException(
                        413, detail=f"The request body exceeds {self.max_bytes} bytes"
                    )
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, except that a refused preflight is a 400 problem, not plain text."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await super().__call__(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "origin" in headers and "access-control-request-method" in headers:
            response = self.preflight_response(request_headers=headers)
            if response.status_code >= 400:
                # The detail is Starlette's ("Disallowed CORS origin"): it names no input.
                response = problem_response(
                    status=response.status_code,
                    detail=bytes(response.body).decode(),
                    instance=scope["path"],
                    headers={
                        name: value
                        for name, value in response.headers.items()
                        if name not in ("content-type", "content-length")
                    },
                )
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


_UNEXPECTED = "An unexpected error occurred; quote the request id when reporting it"
_LOGGED = "_stockroom_logged"


class UnhandledErrorMiddleware:
    """Turns any exception that escaped the layers inside it into a generic 500 problem.

    The traceback goes to the log with the request id; the client gets only the id, so it
    can quote it in a bug report without the service leaking SQL, paths or stack frames.
    Installed twice (see the module docstring); an exception is logged once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if not getattr(exc, _LOGGED, False):
                error_log.exception("unhandled_exception", path=scope["path"])
                with contextlib.suppress(AttributeError):  # an exception with __slots__
                    setattr(exc, _LOGGED, True)
            if started:
                raise
            response = problem_response(status=500, detail=_UNEXPECTED, instance=scope["path"])
            await response(scope, receive, send)


def last_resort_handler(*, hsts: bool) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler of Starlette's ServerErrorMiddleware, outside every other layer: whatever
    reaches it still gets a problem with the request id and the security headers."""
    headers = security_headers(hsts=hsts)

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        request_id = current_request_id()
        if not request_id:  # it failed before the request id layer ran
            request_id = new_request_id()
            correlation_id.set(request_id)
        if not getattr(exc, _LOGGED, False):
            error_log.error(
                "unhandled_exception", path=request.url.path, request_id=request_id, exc_info=exc
            )
        return problem_response(
            status=500,
            detail=_UNEXPECTED,
            instance=request.url.path,
            headers={**headers, "X-Request-ID": request_id},
        )

    return handler
