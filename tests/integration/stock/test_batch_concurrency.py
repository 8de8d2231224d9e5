"""Checked writes under concurrency, on committed transactions: an expectation holds for one
writer only, and concurrent batches neither oversell nor deadlock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable

import httpx

from tests.support.factories import Headers
from tests.support.stock import (
    line,
    new_location,
    new_product,
    on_hand,
    post_batch,
    post_movement,
    receive,
)


async def test_twenty_writers_expecting_the_same_quantity_one_wins(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, _ = staff
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    await receive(committed_client, clerk, product, location, 50)

    responses = await asyncio.gather(
        *(
            post_movement(
                committed_client, clerk, product, location, "issue", 1, expected_on_hand=50
            )
            for _ in range(20)
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 19}
    stale = [r.json() for r in responses if r.status_code == 409]
    assert {(p["type"], p["on_hand"]) for p in stale} == {("/problems/stale-quantity", 49)}
    assert await on_hand(committed_client, clerk, product, location) == 49


async def test_concurrent_batches_never_oversell_nor_deadlock(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product = await new_product(committed_client, manager)
    a = await new_location(committed_client, manager)
    b = await new_location(committed_client, manager)
    await receive(committed_client, clerk, product, a, 20)
    await receive(committed_client, clerk, product, b, 20)

    def batch(i: int) -> Awaitable[httpx.Response]:
        # Each takes 3 from each level, naming the two levels in either order.
        first, second = (a, b) if i % 2 else (b, a)
        return post_batch(
            committed_client,
            clerk,
            line(product, first, "issue", 1),
            line(product, second, "issue", 2),
            line(product, first, "issue", 2),
            line(product, second, "issue", 1),
        )

    responses = await asyncio.gather(*(batch(i) for i in range(16)))
    statuses = Counter(r.status_code for r in responses)
    # 20 // 3: six batches fit on each level, and a batch takes from both or neither.
    assert statuses == {201: 6, 409: 10}, statuses
    assert all(
        r.json()["type"] == "/problems/insufficient-stock"
        for r in responses
        if r.status_code == 409
    )
    assert await on_hand(committed_client, clerk, product, a) == 2
    assert await on_hand(committed_client, clerk, product, b) == 2
    balances = sorted(
        m["balance_after"]
        for r in responses
        if r.status_code == 201
        for m in r.json()["movements"]
        if m["location_id"] == a["id"]
    )
    # Every unit left exactly once: the balances after each batch's lines never overlap.
    assert len(balances) == len(set(balances)) == 12
    reconciliation = await committed_client.get("/api/v1/stock/reconciliation", headers=admin)
    assert reconciliation.status_code == 200
    assert reconciliation.json()["mismatches"] == []
