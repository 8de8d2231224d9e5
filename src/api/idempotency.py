"""Answering a posting once per Idempotency-Key.

The unit of work claims the key; a completed request is answered again from the stored
status, body and Location, byte for byte, with `Idempotent-Replayed: true`, and nothing else
runs. Otherwise the service does the work, the response is built here (routes are the API
layer's business) and remembered in the same transaction, so the record exists if and only
if the work committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import Response
from pydantic import BaseModel

from src.services.unit_of_work import UnitOfWork

# What a posting created, and the URL of it (the Location header).
Created = tuple[BaseModel, str | None]


class NoBody(BaseModel):
    """What a bodiless POST (a release, a cancellation) asks for besides its path: nothing,
    hashed like any body so a reused Idempotency-Key is checked the same way."""


NO_BODY = NoBody()


async def respond_once(
    work: UnitOfWork,
    *,
    user_id: uuid.UUID,
    key: str | None,
    operation: str,
    body: BaseModel,
    create: Callable[[], Awaitable[Created]],
    status: int = 201,
) -> Response:
    """Run `create` at most once per (user, key, request); without a key, just run it."""
    if key is not None:
        replay = await work.claim(user_id, key, operation, body)
        if replay is not None:
            return _json(replay.status, replay.body, replay.location, replayed=True)
    result, location = await create()
    content = result.model_dump_json().encode()
    if key is not None:
        await work.remember(status, content, location)
    return _json(status, content, location)


def _json(status: int, content: bytes, location: str | None, *, replayed: bool = False) -> Response:
    headers = {"Location": location} if location else {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        content=content, status_code=status, media_type="application/json", headers=headers
    )
