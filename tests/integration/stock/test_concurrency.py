"""Races against real connections and committed transactions (not the rollback fixture).

Every request here runs in its own transaction on its own pooled connection, exactly as in
production, so the database (row locks, conditional updates, advisory locks) decides.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, on_hand, post_movement, receive


@pytest.mark.slow
async def test_fifty_issues_of_one_against_twenty(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, _ = staff
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    await receive(committed_client, clerk, product, location, 20)

    responses = await asyncio.gather(
        *(post_movement(committed_client, clerk, product, location, "issue", 1) for _ in range(50))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 20, 409: 30}
    assert all(
        r.json()["type"] == "/problems/insufficient-stock"
        for r in responses
        if r.status_code == 409
    )
    assert await on_hand(committed_client, clerk, product, location) == 0
    balances = sorted(r.json()["balance_after"] for r in responses if r.status_code == 201)
    assert balances == list(range(20))  # every unit issued exactly once


async def test_ten_requests_with_one_key_make_one_movement(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, _ = staff
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    headers = {**clerk, "Idempotency-Key": f"race-{product['id']}"}

    responses = await asyncio.gather(
        *(
            post_movement(committed_client, headers, product, location, "receipt", 7)
            for _ in range(10)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert statuses[201] >= 1
    in_flight = [r for r in responses if r.status_code == 409]
    assert all(r.json()["type"] == "/problems/idempotency-key-in-flight" for r in in_flight)
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1  # replays carry the same movement
    assert await on_hand(committed_client, clerk, product, location) == 7
    ledger = await committed_client.get(
        "/api/v1/stock/movements", params={"product_id": product["id"]}, headers=clerk
    )
    assert len(ledger.json()["items"]) == 1
    # Once the first has committed, a retry replays it.
    retry = await post_movement(committed_client, headers, product, location, "receipt", 7)
    assert retry.status_code == 201
    assert retry.json()["id"] in created


@pytest.mark.slow
async def test_opposite_transfers_neither_deadlock_nor_lose_stock(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product = await new_product(committed_client, manager)
    a = await new_location(committed_client, manager)
    b = await new_location(committed_client, manager)
    await receive(committed_client, clerk, product, a, 30)
    await receive(committed_client, clerk, product, b, 30)

    def transfer(source: dict[str, Any], target: dict[str, Any]) -> Awaitable[httpx.Response]:
        return committed_client.post(
            "/api/v1/stock/transfers",
            json={
                "product_id": product["id"],
                "from_location_id": source["id"],
                "to_location_id": target["id"],
                "quantity": 3,
            },
            headers=clerk,
        )

    responses = await asyncio.gather(
        *(transfer(a, b) if i % 2 else transfer(b, a) for i in range(40))
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    total = await on_hand(committed_client, clerk, product, a) + await on_hand(
        committed_client, clerk, product, b
    )
    assert total == 60
    for response in responses:
        if response.status_code == 201:
            out, into = response.json()["movements"]
            assert out["quantity"] == -into["quantity"]
    reconciliation = await committed_client.get("/api/v1/stock/reconciliation", headers=admin)
    assert reconciliation.json()["mismatches"] == []


async def test_archive_racing_a_receipt_never_archives_stock(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, _ = staff
    for _ in range(5):
        product = await new_product(committed_client, manager)
        location = await new_location(committed_client, manager)
        archive, receipt = await asyncio.gather(
            committed_client.delete(f"/api/v1/products/{product['id']}", headers=manager),
            post_movement(committed_client, clerk, product, location, "receipt", 4),
        )
        archived = (
            await committed_client.get(f"/api/v1/products/{product['id']}", headers=manager)
        ).json()["is_archived"]
        stock = await on_hand(committed_client, clerk, product, location)
        # Exactly one order happened: archived with nothing received, or received and live.
        assert (archived, stock) in {(True, 0), (False, 4)}
        assert {archive.status_code, receipt.status_code} in ({204, 409}, {201, 409})
