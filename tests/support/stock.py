"""Helpers for catalog and stock tests: create items and post movements over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

API = "/api/v1"
# A record as the API answers it (a product, a location, a level, a movement...).
Item = dict[str, Any]
# The `stocked` fixture: a product with 10 on hand at `a`, and an empty location `b`.
Stocked = tuple[Item, Item, Item]
# `new_product` or `new_location`.
Maker = Callable[..., Awaitable[Item]]


def _tag() -> str:
    return uuid.uuid4().hex[:8].upper()


async def new_product(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"sku": f"SKU-{_tag()}", "name": f"Product {_tag()}", **fields}
    response = await client.post(f"{API}/products", json=body, headers=headers)
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product


async def new_location(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"code": f"LOC-{_tag()}", "name": f"Location {_tag()}", **fields}
    response = await client.post(f"{API}/locations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    location: dict[str, Any] = response.json()
    return location


async def post_movement(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product: dict[str, Any],
    location: dict[str, Any],
    kind: str,
    quantity: int,
    **extra: Any,
) -> httpx.Response:
    body = {
        "product_id": product["id"],
        "location_id": location["id"],
        "kind": kind,
        "quantity": quantity,
        **extra,
    }
    return await client.post(f"{API}/stock/movements", json=body, headers=headers)


async def post_transfer(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product: dict[str, Any],
    source: dict[str, Any],
    target: dict[str, Any],
    quantity: int,
) -> httpx.Response:
    body = {
        "product_id": product["id"],
        "from_location_id": source["id"],
        "to_location_id": target["id"],
        "quantity": quantity,
    }
    return await client.post(f"{API}/stock/transfers", json=body, headers=headers)


async def post_count(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    location: dict[str, Any],
    *counted: tuple[dict[str, Any], int],
) -> httpx.Response:
    """A stocktake of `location`: each product with the quantity counted."""
    lines = [{"product_id": product["id"], "counted": n} for product, n in counted]
    body = {"location_id": location["id"], "lines": lines}
    return await client.post(f"{API}/stock/counts", json=body, headers=headers)


async def receive(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product: dict[str, Any],
    location: dict[str, Any],
    quantity: int,
) -> dict[str, Any]:
    response = await post_movement(client, headers, product, location, "receipt", quantity)
    assert response.status_code == 201, response.text
    movement: dict[str, Any] = response.json()
    return movement


async def on_hand(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product: dict[str, Any],
    location: dict[str, Any],
) -> int:
    response = await client.get(
        f"{API}/stock/levels",
        params={"product_id": product["id"], "location_id": location["id"]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return int(items[0]["on_hand"]) if items else 0


async def level(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product: dict[str, Any],
    location: dict[str, Any],
) -> dict[str, Any]:
    """The level as `GET /stock/levels` shows it (zeros when never stocked)."""
    response = await client.get(
        f"{API}/stock/levels",
        params={"product_id": product["id"], "location_id": location["id"]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    found: dict[str, Any] = (
        items[0] if items else {"on_hand": 0, "reserved": 0, "available": 0, "incoming": 0}
    )
    return found


async def reserve(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product: dict[str, Any],
    location: dict[str, Any],
    quantity: int,
    **extra: Any,
) -> httpx.Response:
    body = {"product_id": product["id"], "location_id": location["id"], "quantity": quantity}
    return await client.post(f"{API}/stock/reservations", json={**body, **extra}, headers=headers)


async def ship(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    source: dict[str, Any],
    target: dict[str, Any],
    *lines: tuple[dict[str, Any], int],
    **extra: Any,
) -> httpx.Response:
    body = {
        "from_location_id": source["id"],
        "to_location_id": target["id"],
        "lines": [{"product_id": product["id"], "quantity": n} for product, n in lines],
        **extra,
    }
    return await client.post(f"{API}/stock/shipments", json=body, headers=headers)


def line(
    product: dict[str, Any], location: dict[str, Any], kind: str, quantity: int, **extra: Any
) -> dict[str, Any]:
    """One line of a batch: a movement's body."""
    body = {"product_id": product["id"], "location_id": location["id"], "kind": kind}
    return {**body, "quantity": quantity, **extra}


async def post_batch(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *lines: dict[str, Any],
    **extra: Any,
) -> httpx.Response:
    body = {"movements": list(lines), **extra}
    return await client.post(f"{API}/stock/batches", json=body, headers=headers)


async def assert_reconciled(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """The levels agree with the ledger (no reconciliation mismatch)."""
    reconciliation = await client.get(f"{API}/stock/reconciliation", headers=admin)
    assert reconciliation.json()["mismatches"] == []
