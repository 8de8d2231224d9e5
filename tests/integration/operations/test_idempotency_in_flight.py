"""A posting whose Idempotency-Key is still being processed: 409 with Retry-After.

The key is held in flight exactly, not by timing: a separate committed connection takes the
same advisory lock a running posting takes, so the request under test finds it claimed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.models.user import Role
from tests.support.factories import MakeUser, login_headers
from tests.support.stock import new_location, new_product, on_hand, post_movement


@contextlib.asynccontextmanager
async def key_in_flight(engine: AsyncEngine, user_id: uuid.UUID, key: str) -> AsyncIterator[None]:
    """Hold the claim a running posting with this (user, key) holds, until the block ends."""
    async with engine.connect() as raw:
        holder = await raw.execution_options(isolation_level="AUTOCOMMIT")
        claim = "hashtextextended(:k, 0)"
        await holder.execute(
            text(f"SELECT pg_advisory_lock({claim})"), {"k": f"idempotency:{user_id}:{key}"}
        )
        try:
            yield
        finally:
            await holder.execute(text("SELECT pg_advisory_unlock_all()"))


async def test_a_key_in_flight_answers_409_with_retry_after_and_posts_nothing(
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    committed_engine: AsyncEngine,
) -> None:
    clerk = await committed_make_user(role=Role.CLERK)
    clerk_headers = await login_headers(committed_client, clerk)
    manager = await login_headers(committed_client, await committed_make_user(role=Role.MANAGER))
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    key = f"in-flight-{uuid.uuid4()}"
    headers = {**clerk_headers, "Idempotency-Key": key}

    async with key_in_flight(committed_engine, clerk.id, key):
        busy = await post_movement(committed_client, headers, product, location, "receipt", 4)
        assert busy.status_code == 409
        assert busy.json()["type"] == "/problems/idempotency-key-in-flight"
        assert busy.headers["retry-after"] == "1"
        # Another user's key of the same name is not in flight.
        others = await post_movement(
            committed_client, {**manager, "Idempotency-Key": key}, product, location, "receipt", 1
        )
        assert others.status_code == 201
        assert "retry-after" not in others.headers
    assert await on_hand(committed_client, clerk_headers, product, location) == 1

    # Retried after the claim is released: it runs, once.
    retried = await post_movement(committed_client, headers, product, location, "receipt", 4)
    assert retried.status_code == 201
    assert "retry-after" not in retried.headers
    assert await on_hand(committed_client, clerk_headers, product, location) == 5


async def test_other_idempotency_errors_carry_no_retry_after(
    committed_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    clerk = await login_headers(committed_client, await committed_make_user(role=Role.CLERK))
    manager = await login_headers(committed_client, await committed_make_user(role=Role.MANAGER))
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    headers = {**clerk, "Idempotency-Key": f"reused-{uuid.uuid4()}"}
    assert (
        await post_movement(committed_client, headers, product, location, "receipt", 2)
    ).status_code == 201

    reused = await post_movement(committed_client, headers, product, location, "receipt", 3)
    assert reused.status_code == 422
    assert reused.json()["type"] == "/problems/idempotency-key-reused"
    assert "retry-after" not in reused.headers

    short = await post_movement(committed_client, clerk, product, location, "issue", 9)
    assert short.status_code == 409
    assert short.json()["type"] == "/problems/insufficient-stock"
    assert "retry-after" not in short.headers
    assert await on_hand(committed_client, clerk, product, location) == 2
