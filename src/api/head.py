"""HEAD wherever GET works (RFC 9110 §9.3.2): the GET's status and headers, no body.

Starlette's own routes accept HEAD, FastAPI's path operations do not (405). Declaring HEAD on
every route would publish a HEAD operation beside each GET in the OpenAPI document, so the
request layer (`src/api/middleware.py`), innermost of all, hands the app a GET instead, and
sends the response's start (status and headers, Content-Length included) with an empty
body. The response is complete at that point: a streaming GET (the event stream) then sees
the client gone and stops at once.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What the router writes into the scope it is given; the request layer (the access log,
# the metrics) reads it from the original.
_ROUTING_KEYS = ("route", "endpoint", "path_params")


async def serve_head_as_get(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    # A copy: the server (and the access log) keeps seeing HEAD.
    as_get = {**scope, "method": "GET"}
    answered = False

    async def head_send(message: Message) -> None:
        nonlocal answered
        if message["type"] != "http.response.start" or answered:
            return  # the body (and anything after it) is never sent
        answered = True
        await send(message)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def head_receive() -> Message:
        if answered:
            return {"type": "http.disconnect"}
        return await receive()

    try:
        await app(as_get, head_receive, head_send)
    finally:
        for key in _ROUTING_KEYS:
            if key in as_get:
                scope[key] = as_get[key]
