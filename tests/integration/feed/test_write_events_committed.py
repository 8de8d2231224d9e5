"""With real commits: a request's events share its one transaction, and a write that emitted
wakes feed readers with one NOTIFY on commit (none for a failed write or a read)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.event_types import FEED_CHANNEL
from src.models.user import Role
from tests.support.factories import MakeUser, login_headers
from tests.support.stock import (
    new_location,
    new_product,
    post_movement,
    post_transfer,
    receive,
)

API = "/api/v1"


@pytest.fixture
async def wakeups(committed_engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """Payloads of the NOTIFYs on the feed's channel, as a separate connection receives them."""
    received: list[str] = []
    async with committed_engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None

        def listener(*args: Any) -> None:
            received.append(args[-1])

        await raw.add_listener(FEED_CHANNEL, listener)
        yield received
        await raw.remove_listener(FEED_CHANNEL, listener)


async def _settle() -> None:
    await asyncio.sleep(0.3)  # notifications arrive asynchronously after the commit


async def test_the_events_of_one_request_share_its_transaction(
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    committed_engine: AsyncEngine,
) -> None:
    manager = await login_headers(committed_client, await committed_make_user(role=Role.MANAGER))
    clerk = await login_headers(committed_client, await committed_make_user(role=Role.CLERK))
    product = await new_product(committed_client, manager, reorder_point=5)
    a = await new_location(committed_client, manager)
    b = await new_location(committed_client, manager)
    receipt = await receive(committed_client, clerk, product, a, 10)
    transfer = await post_transfer(committed_client, clerk, product, a, b, 8)
    assert transfer.status_code == 201
    async with committed_engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT type, data->>'id' AS id, xid::text AS xid FROM events"
                    " WHERE data->>'product_id' = :p ORDER BY seq"
                ),
                {"p": product["id"]},
            )
        ).all()
    out, into = transfer.json()["movements"]
    assert [(r.type, r.id) for r in rows] == [
        ("movement.created", receipt["id"]),
        ("movement.created", out["id"]),
        ("level.below_reorder", None),
        ("movement.created", into["id"]),
    ]
    assert len({r.xid for r in rows[1:]}) == 1  # the transfer's three events: one transaction
    assert rows[0].xid != rows[1].xid  # the receipt was another request


async def test_a_write_that_emits_wakes_readers_once_and_a_failed_one_not_at_all(
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    wakeups: list[str],
) -> None:
    manager = await login_headers(committed_client, await committed_make_user(role=Role.MANAGER))
    clerk = await login_headers(committed_client, await committed_make_user(role=Role.CLERK))
    product = await new_product(committed_client, manager, reorder_point=5)
    location = await new_location(committed_client, manager)
    await _settle()
    wakeups.clear()

    # One NOTIFY per committed write, however many events it appended (the issue: two).
    await receive(committed_client, clerk, product, location, 6)
    await _settle()
    assert wakeups == [""]
    crossing = await post_movement(committed_client, clerk, product, location, "issue", 2)
    assert crossing.status_code == 201
    await _settle()
    assert wakeups == ["", ""]

    short = await post_movement(committed_client, clerk, product, location, "issue", 99)
    assert short.status_code == 409
    read = await committed_client.get(f"{API}/stock/levels", headers=clerk)
    assert read.status_code == 200
    await _settle()
    assert wakeups == ["", ""]
