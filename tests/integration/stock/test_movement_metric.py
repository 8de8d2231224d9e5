"""stockroom_movements_posted_total counts committed movements only: a posting that rolls
back, even after some of its ledger rows were written, leaves the counter where it was."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.factories import Headers
from tests.support.metrics import sample
from tests.support.stock import new_location, new_product, on_hand, receive

MAX_ON_HAND = 10**12
POSTED = "stockroom_movements_posted_total"


async def _posted(client: httpx.AsyncClient, kind: str) -> float:
    return sample((await client.get("/metrics")).text, POSTED, kind=kind)


async def _transfer(
    client: httpx.AsyncClient,
    headers: Headers,
    product: dict[str, Any],
    source: dict[str, Any],
    target: dict[str, Any],
    quantity: int,
) -> httpx.Response:
    return await client.post(
        "/api/v1/stock/transfers",
        json={
            "product_id": product["id"],
            "from_location_id": source["id"],
            "to_location_id": target["id"],
            "quantity": quantity,
        },
        headers=headers,
    )


async def test_a_committed_transfer_counts_both_legs(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    source = await new_location(client, manager_headers)
    target = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, source, 5)
    issues, receipts = await _posted(client, "issue"), await _posted(client, "receipt")
    response = await _transfer(client, clerk_headers, product, source, target, 2)
    assert response.status_code == 201, response.text
    assert await _posted(client, "issue") - issues == 1
    assert await _posted(client, "receipt") - receipts == 1


async def test_a_transfer_that_rolls_back_after_its_first_leg_counts_nothing(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    source = await new_location(client, manager_headers)
    full = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, source, 5)
    await receive(client, clerk_headers, product, full, MAX_ON_HAND)
    issues, receipts = await _posted(client, "issue"), await _posted(client, "receipt")
    # The issue leg is written first; the receipt then overflows the full location.
    response = await _transfer(client, clerk_headers, product, source, full, 1)
    assert response.status_code == 409, response.text
    assert await on_hand(client, clerk_headers, product, source) == 5
    assert await on_hand(client, clerk_headers, product, full) == MAX_ON_HAND
    assert await _posted(client, "issue") - issues == 0
    assert await _posted(client, "receipt") - receipts == 0


async def test_a_refused_transfer_counts_nothing(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    source = await new_location(client, manager_headers)
    target = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, source, 1)
    issues = await _posted(client, "issue")
    response = await _transfer(client, clerk_headers, product, source, target, 2)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/insufficient-stock"
    assert await _posted(client, "issue") - issues == 0
