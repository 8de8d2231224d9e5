"""Shipments racing on committed transactions, and reconciliation catching stock in transit
that the shipments do not explain."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import (
    API,
    assert_reconciled,
    level,
    new_location,
    new_product,
    receive,
    ship,
)


async def _in_transit(
    client: httpx.AsyncClient, clerk: Headers, manager: Headers, n: int
) -> tuple[Any, Any, Any, Any]:
    product = await new_product(client, manager)
    a, b = await new_location(client, manager), await new_location(client, manager)
    await receive(client, clerk, product, a, n)
    shipment = await ship(client, clerk, a, b, (product, n))
    assert shipment.status_code == 201, shipment.text
    return product, a, b, shipment.json()


async def test_two_receipts_with_one_key_receive_once(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product, _, b, shipment = await _in_transit(committed_client, clerk, manager, 6)
    url = f"{API}/stock/shipments/{shipment['id']}/receipts"
    body = {"lines": [{"product_id": product["id"], "received": 2}]}
    headers = {**clerk, "Idempotency-Key": f"receipt-{shipment['id']}"}
    responses = await asyncio.gather(
        *(committed_client.post(url, json=body, headers=headers) for _ in range(2))
    )
    assert {r.status_code for r in responses} <= {201, 409}
    assert len({r.json()["version"] for r in responses if r.status_code == 201}) == 1
    shown = await level(committed_client, clerk, product, b)
    assert (shown["on_hand"], shown["incoming"]) == (2, 4)
    replay = await committed_client.post(url, json=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    await assert_reconciled(committed_client, admin)


async def test_racing_receipts_never_receive_more_than_was_shipped(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product, _, b, shipment = await _in_transit(committed_client, clerk, manager, 5)
    url = f"{API}/stock/shipments/{shipment['id']}/receipts"
    body = {"lines": [{"product_id": product["id"], "received": 2}]}
    responses = await asyncio.gather(
        *(committed_client.post(url, json=body, headers=clerk) for _ in range(6))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 2  # 2 + 2; then 1 pending (422), then none left
    assert set(statuses) <= {201, 409, 422}
    final = await committed_client.get(f"{API}/stock/shipments/{shipment['id']}", headers=clerk)
    assert final.json()["lines"][0]["pending"] == 1
    shown = await level(committed_client, clerk, product, b)
    assert (shown["on_hand"], shown["incoming"]) == (4, 1)
    await assert_reconciled(committed_client, admin)


async def test_cancel_racing_a_receipt_accounts_for_every_unit(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product, a, b, shipment = await _in_transit(committed_client, clerk, manager, 4)
    url = f"{API}/stock/shipments/{shipment['id']}"
    receipt, cancel = await asyncio.gather(
        committed_client.post(
            f"{url}/receipts",
            json={"lines": [{"product_id": product["id"], "received": 3}]},
            headers=clerk,
        ),
        committed_client.post(f"{url}/cancel", headers=clerk),
    )
    assert cancel.status_code == 200
    source = await level(committed_client, clerk, product, a)
    target = await level(committed_client, clerk, product, b)
    assert source["on_hand"] + target["on_hand"] == 4
    assert target["on_hand"] == (3 if receipt.status_code == 201 else 0)
    assert target["incoming"] == 0
    await assert_reconciled(committed_client, admin)


async def test_reconciliation_finds_transit_and_incoming_the_shipments_do_not_explain(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    admin_headers: Headers,
    connection: AsyncConnection,
    stocked: tuple[Any, Any, Any],
) -> None:
    product, a, b = stocked
    assert (await ship(client, clerk_headers, a, b, (product, 3))).status_code == 201
    assert (await client.get(f"{API}/stock/reconciliation", headers=admin_headers)).json()[
        "mismatches"
    ] == []
    await connection.execute(
        text("UPDATE stock_levels SET incoming = incoming + 1 WHERE location_id = :l"),
        {"l": b["id"]},
    )
    await connection.execute(
        text(
            "UPDATE shipment_lines SET received = 1 WHERE product_id = :p",
        ),
        {"p": product["id"]},
    )
    mismatches = (await client.get(f"{API}/stock/reconciliation", headers=admin_headers)).json()[
        "mismatches"
    ]
    by_location = {m["location_id"]: m for m in mismatches}
    assert (by_location[b["id"]]["incoming"], by_location[b["id"]]["pending_to_here"]) == (4, 2)
    (transit,) = [m for m in mismatches if m["pending_in_transit"] is not None]
    assert (transit["on_hand"], transit["pending_in_transit"]) == (3, 2)
