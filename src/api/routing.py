"""`PrefixRouter`: an `APIRouter` that rules itself out by its prefix, and whose routes
(`LimitedRoute`) bound a request's shape before FastAPI validates it.

FastAPI matches a request against every route of every included router in turn (a regular
expression and some bookkeeping per route), so a route of a later router pays for every
route before it (bench/README.md, "Where each request's CPU goes"). A router whose paths all
start with its prefix can refuse any other path with one string comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, params
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Receive, Scope

from src.core.exceptions import MalformedRequest
from src.core.input_limits import check_query_names, loads, may_exceed_query_limit

_UNREAD = object()


def is_json_content_type(value: str | None) -> bool:
    """What FastAPI reads as JSON: `application/json` or an `application/*+json` type."""
    if not value:
        return False
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class _ParsedRequest(Request):
    """The request as FastAPI reads it: the body already received (replayed from memory),
    and its JSON already parsed by `src.core.input_limits.loads` (I-JSON, bounded objects)."""

    def __init__(self, original: Request, body: bytes, parsed: Any) -> None:
        super().__init__(original.scope, _replay(body, original.receive))
        self._parsed = parsed

    async def json(self) -> Any:
        if self._parsed is _UNREAD:  # not sent as JSON: FastAPI reads it only to refuse it
            self._parsed = loads(await self.body())
        return self._parsed


def _replay(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()  # a disconnect, for whoever listens for one
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class LimitedRoute(APIRoute):
    """Refuses a query of too many parameters and a JSON body with a duplicate member or an
    oversized object before validation. The problems are raised here, outside FastAPI's body
    reading (which would turn them into a generic 400); the body is read from the request the
    exception handlers get, so they can read it again."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        field = self.body_field
        reads_json = field is not None and not isinstance(field.field_info, params.Form)

        async def limited(request: Request) -> Response:
            if may_exceed_query_limit(request.scope.get("query_string", b"")):
                check_query_names(len(request.query_params))
            if not reads_json:
                return await handler(request)
            try:
                body = await request.body()
            except ClientDisconnect:
                raise MalformedRequest("The request body did not arrive whole") from None
            parsed: Any = _UNREAD
            if body and is_json_content_type(request.headers.get("content-type")):
                parsed = loads(body)
            return await handler(_ParsedRequest(request, body, parsed))

        return limited


class PrefixRouter(APIRouter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", LimitedRoute)
        super().__init__(*args, **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # Every route of an APIRouter is registered under its prefix, so a path outside it
        # can match none of them (not even partially, for a 405).
        if self.prefix and not get_route_path(scope).startswith(self.prefix):
            return Match.NONE, {}
        return super().matches(scope)
