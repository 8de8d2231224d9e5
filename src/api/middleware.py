"""The request layer: one pure ASGI middleware (no BaseHTTPMiddleware: it buffers and breaks
streaming responses) around the app, with one `send` wrapper for every request.

Outermost first, what it does per request: request id -> security headers -> unhandled
errors -> access log + metrics -> [CORS, when CORS_ORIGINS is set] -> rate limit -> body
limit -> unhandled errors -> HEAD as GET (`src/api/head.py`) -> the app. The part after
CORS runs inside Starlette's CORS middleware, so a 429, a 413 and the app's own crashes
carry the CORS headers browsers need to read them; everything, CORS preflights included,
gets the security headers and the request id from the outer part. Starlette's
ServerErrorMiddleware, outside it all, renders a secured problem too
(`last_resort_handler`).

One layer instead of eight: each layer cost a coroutine frame, and each `send` wrapper a
header scan, on every request.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from asgi_correlation_id import correlation_id
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.api.caller_limits import CallerLimits
from src.api.head import serve_head_as_get
from src.api.problems import current_request_id, problem_response
from src.api.v1.prefix import API_V1
from src.core.logging import get_logger, redact_query
from src.core.metrics import UNMATCHED_ROUTE, observe_pool, observe_request

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_REQUEST_ID_HEADER = b"x-request-id"
# The scope key under which the outer part hands the inner part (behind CORS) its exchange.
_EXCHANGE = "stockroom.exchange"

access_log = get_logger("stockroom.access")
error_log = get_logger("stockroom.error")
_UNEXPECTED = "An unexpected error occurred; quote the request id when reporting it"
_LOGGED = "_stockroom_logged"


def is_sane_request_id(value: str) -> bool:
    """The contract's rule for echoing a caller's X-Request-ID (anything else is replaced)."""
    return _REQUEST_ID.fullmatch(value) is not None


def new_request_id() -> str:
    return str(uuid.uuid4())


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


class _Exchange:
    """What the layer learns about one request while it is served."""

    __slots__ = ("limit_headers", "started", "status")

    def __init__(self) -> None:
        self.status = 500  # what the access line says if nothing was sent
        self.started = False
        self.limit_headers: list[tuple[bytes, bytes]] = []


class RequestMiddleware:
    """Request id, security headers, error guard, access log, metrics, general rate limit,
    body limit and HEAD, in one layer (the module docstring has the order).

    The request id is asgi-correlation-id's `correlation_id` contextvar, which the rest of
    the code reads; its middleware is not installed because this layer already scans the
    request's and the response's headers once: one more layer was one more frame and
    one more header scan per request.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool,
        limits: CallerLimits,
        max_body_bytes: int,
        cors: Callable[[ASGIApp], ASGIApp] | None = None,
        prefix: str = API_V1,
    ) -> None:
        self.app = app
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self.prefix = prefix
        self.security = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers(hsts=hsts).items()
        ]
        self.inner: ASGIApp = cors(self.guard) if cors is not None else self.guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        correlation_id.set(request_id)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        exchange = scope[_EXCHANGE] = _Exchange()
        security = self.security
        request_id_header = (_REQUEST_ID_HEADER, request_id.encode("latin-1"))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.started = True
                exchange.status = message["status"]
                headers = message["headers"] = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in security if h[0] not in present)
                headers.extend(h for h in exchange.limit_headers if h[0] not in present)
                headers.append(request_id_header)
            await send(message)

        start = time.perf_counter()
        try:
            await self.inner(scope, receive, send_wrapper)
        except Exception as exc:  # one escaped CORS (or the inner guard itself)
            _log_once(exc, scope)
            if exchange.started:
                raise
            await _crash_response(scope)(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_label(scope)
            observe_request(scope["method"], route, exchange.status, elapsed)
            _observe_pool(scope)
            query = scope.get("query_string", b"")
            access_log.info(
                "request",
                method=scope["method"],
                route=route,
                **({"query": redact_query(query)} if query else {}),
                status=exchange.status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()

    async def guard(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The part inside CORS: rate limit, body limit, the app's crashes, HEAD."""
        exchange: _Exchange = scope[_EXCHANGE]
        try:
            if scope["path"].startswith(self.prefix) and await self._refused(scope, receive, send):
                return
            declared = _content_length(scope)
            if declared is not None:
                # The server delivers exactly the declared length: nothing left to count.
                if declared > self.max_body_bytes:
                    await self._too_large(scope, receive, send)
                    return
            else:
                receive = self._counted(receive)
            if scope["method"] == "HEAD":
                await serve_head_as_get(self.app, scope, receive, send)
            else:
                await self.app(scope, receive, send)
        except Exception as exc:
            _log_once(exc, scope)
            if exchange.started:
                raise
            await _crash_response(scope)(scope, receive, send)

    async def _refused(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """A limit on every /api/v1 request, per user or API client a valid bearer token
        names, else per client address (src/api/caller_limits.py); RateLimit-* headers on
        every answer, 429 beyond.

        The token is only verified here (no database read): a forged one falls back to the
        client address. If the counter storage is down, traffic passes; only logins fail
        closed.
        """
        state = scope["app"].state
        client = scope.get("client")
        limit, key = self.limits.for_request(
            scope["headers"], client[0] if client else "unknown", state.tokens
        )
        status = await state.rate_limiter.consume(limit, key)
        if status is None:
            return False
        if status.allowed:
            scope[_EXCHANGE].limit_headers = status.raw_headers()
            return False
        response = problem_response(
            status=429,
            detail="Too many requests; slow down",
            instance=scope["path"],
            headers={**status.headers(), "Retry-After": str(status.reset_in)},
        )
        await response(scope, receive, send)
        return True

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            status=413,
            detail=f"The request body exceeds {self.max_body_bytes} bytes",
            instance=scope["path"],
        )
        await response(scope, receive, send)

    def _counted(self, receive: Receive) -> Receive:
        """Chunked bodies are counted as they arrive; the HTTPException raised from
        `receive` reaches FastAPI's exception handlers, which render it as a problem."""
        received = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    detail = f"The request body exceeds {limit} bytes"
                    raise StarletteHTTPException(413, detail=detail)
            return message

        return limited_receive


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-ID if it is sane, else a new one, which then replaces it in
    the request's headers too (as asgi-correlation-id's `update_request_header` did)."""
    sent: str | None = None
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_HEADER:
            sent = value.decode("latin-1")
            break
    if sent and is_sane_request_id(sent):
        return sent
    request_id = new_request_id()
    if sent:
        error_log.warning("request_id_replaced", request_id=request_id)
    scope["headers"] = [
        *(header for header in scope["headers"] if header[0] != _REQUEST_ID_HEADER),
        (_REQUEST_ID_HEADER, request_id.encode("latin-1")),
    ]
    return request_id


def _log_once(exc: Exception, scope: Scope) -> None:
    """The traceback goes to the log with the request id; the client gets only the id, so
    it can quote it in a bug report without the service leaking SQL, paths or frames."""
    if not getattr(exc, _LOGGED, False):
        error_log.exception("unhandled_exception", path=scope["path"])
        with contextlib.suppress(AttributeError):  # an exception with __slots__
            setattr(exc, _LOGGED, True)


def _crash_response(scope: Scope) -> JSONResponse:
    return problem_response(status=500, detail=_UNEXPECTED, instance=scope["path"])


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


def last_resort_handler(*, hsts: bool) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler of Starlette's ServerErrorMiddleware, outside every other layer: whatever
    reaches it still gets a problem with the request id and the security headers."""
    headers = security_headers(hsts=hsts)

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        request_id = current_request_id()
        if not request_id:  # it failed before the request layer ran
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
