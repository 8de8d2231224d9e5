"""Archived locations take no shipment's stock: archiving waits until nothing is on its way
(409 while `incoming > 0`), and a receipt or cancellation into an archived location is a 409
that changes nothing."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import API, Item, Stocked, level, new_location, new_product, receive, ship


async def _shipment(client: httpx.AsyncClient, clerk: Headers, stocked: Stocked, n: int) -> Item:
    product, a, b = stocked
    response = await ship(client, clerk, a, b, (product, n))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _location(client: httpx.AsyncClient, headers: Headers, location: Item) -> Item:
    response = await client.get(f"{API}/locations/{location['id']}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _receive(
    client: httpx.AsyncClient, clerk: Headers, shipment: Item, product: Item, n: int
) -> httpx.Response:
    body = {"lines": [{"product_id": product["id"], "received": n}]}
    return await client.post(
        f"{API}/stock/shipments/{shipment['id']}/receipts", json=body, headers=clerk
    )


async def test_a_location_with_stock_incoming_is_not_archived(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, _, b = stocked
    shipment = await _shipment(client, clerk_headers, stocked, 4)
    refused = await client.delete(f"{API}/locations/{b['id']}", headers=manager_headers)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/problems/conflict")
    assert (problem["incoming"], "on_hand" in problem) == (4, False)
    assert "on their way" in problem["detail"]
    shown = await _location(client, manager_headers, b)
    assert (shown["is_archived"], shown["version"]) == (False, b["version"])
    # Partly received: still 1 on its way, still refused (and now it holds stock, too).
    assert (await _receive(client, clerk_headers, shipment, product, 3)).status_code == 201
    again = await client.delete(f"{API}/locations/{b['id']}", headers=manager_headers)
    assert again.status_code == 409, again.text
    assert again.json()["on_hand"] == 3


async def test_once_nothing_is_on_its_way_the_location_is_archived(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, _, b = stocked
    shipment = await _shipment(client, clerk_headers, stocked, 4)
    canceled = await client.post(
        f"{API}/stock/shipments/{shipment['id']}/cancel", headers=clerk_headers
    )
    assert canceled.status_code == 200, canceled.text
    assert (await level(client, clerk_headers, product, b))["incoming"] == 0
    archived = await client.delete(f"{API}/locations/{b['id']}", headers=manager_headers)
    assert archived.status_code == 204, archived.text
    assert (await _location(client, manager_headers, b))["is_archived"] is True


async def test_a_cancellation_into_an_archived_source_is_refused(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    shipment = await _shipment(client, clerk_headers, stocked, 10)  # a is left empty
    archived = await client.delete(f"{API}/locations/{a['id']}", headers=manager_headers)
    assert archived.status_code == 204, archived.text
    url = f"{API}/stock/shipments/{shipment['id']}/cancel"
    refused = await client.post(url, headers=clerk_headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/problems/conflict")
    assert "source location is archived" in refused.json()["detail"]
    read = (
        await client.get(f"{API}/stock/shipments/{shipment['id']}", headers=clerk_headers)
    ).json()
    assert (read["status"], read["version"], read["lines"][0]["pending"]) == ("in_transit", 1, 10)
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 0
    assert (await level(client, clerk_headers, product, b))["incoming"] == 10
    # Restored, the source takes its stock back.
    restored = await client.post(f"{API}/locations/{a['id']}/restore", headers=manager_headers)
    assert restored.status_code == 200, restored.text
    assert (await client.post(url, headers=clerk_headers)).status_code == 200
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 10


async def test_a_receipt_into_an_archived_destination_is_refused(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    clerk_headers: Headers,
    manager_headers: Headers,
    stocked: Stocked,
) -> None:
    product, _, b = stocked
    shipment = await _shipment(client, clerk_headers, stocked, 4)
    # Archived before archiving looked at `incoming` (the API no longer lets it happen).
    await connection.execute(
        text("UPDATE locations SET is_archived = true WHERE id = :id"), {"id": b["id"]}
    )
    refused = await _receive(client, clerk_headers, shipment, product, 4)
    assert refused.status_code == 409, refused.text
    assert "destination location is archived" in refused.json()["detail"]
    after = await level(client, clerk_headers, product, b)
    assert (after["on_hand"], after["incoming"]) == (0, 4)
    read = (
        await client.get(f"{API}/stock/shipments/{shipment['id']}", headers=clerk_headers)
    ).json()
    assert (read["status"], read["lines"][0]["received"]) == ("in_transit", 0)
    restored = await client.post(f"{API}/locations/{b['id']}/restore", headers=manager_headers)
    assert restored.status_code == 200, restored.text
    assert (await _receive(client, clerk_headers, shipment, product, 4)).status_code == 201
    assert (await level(client, clerk_headers, product, b))["on_hand"] == 4


async def test_shipping_to_and_archiving_a_location_at_once_never_leave_it_archived_with_incoming(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    for _ in range(5):
        product = await new_product(committed_client, manager)
        a, b = (
            await new_location(committed_client, manager),
            await new_location(committed_client, manager),
        )
        await receive(committed_client, clerk, product, a, 3)
        shipped, archived = await asyncio.gather(
            ship(committed_client, clerk, a, b, (product, 3)),
            committed_client.delete(f"{API}/locations/{b['id']}", headers=manager),
        )
        # One of them wins; the other is a 409 (archived destination, or stock incoming).
        assert sorted([shipped.status_code, archived.status_code]) in ([201, 409], [204, 409])
        shown = await _location(committed_client, manager, b)
        incoming = (await level(committed_client, clerk, product, b))["incoming"]
        assert (shown["is_archived"], incoming) in ((True, 0), (False, 3))
    reconciliation = await committed_client.get(f"{API}/stock/reconciliation", headers=admin)
    assert reconciliation.json()["mismatches"] == []
