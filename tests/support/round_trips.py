"""Round trips on the wire: what the `counted` fixture (tests/integration/operations) yields, and
the postings of many lines the round-trip tests count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.pgproxy import RoundTripProxy
from tests.support.stock import API, Item, new_product


@dataclass
class Counted:
    client: httpx.AsyncClient
    proxy: RoundTripProxy
    clerk: dict[str, str]
    product: dict[str, Any]
    location: dict[str, Any]
    manager: dict[str, str]
    # An API client's bearer headers (stock:read and stock:write), minted by the app's own
    # codec: a token granting both, and one narrowed to stock:read.
    system: dict[str, str]
    system_reader: dict[str, str]

    async def trips(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, list[str]]:
        """The response, and the round trips it cost once warm (the request runs twice
        before: every statement it uses is then prepared on the pooled connection)."""
        kwargs.setdefault("headers", self.clerk)
        async with self.proxy.counting() as made:
            response = await self.client.request(method, url, **kwargs)
        return response, made


# BEGIN, the user/session check, the location (FOR SHARE), the products (FOR SHARE, one
# statement), the levels' locks (one), their changes (one), the ledger rows (one INSERT), the
# events, COMMIT.
COUNT_TRIPS = 9
# A shipment: BEGIN, the check, both locations, the products, the transit location (its
# insert-if-missing and its id), the levels' locks, the shipment and its lines (two INSERTs),
# the levels' changes, the ledger rows (one INSERT), the events, COMMIT.
SHIP_TRIPS = 14
# A receipt: BEGIN, the check, the shipment and its lines (locked), the transit location (two),
# the destination (FOR SHARE: not archived), the products written off, the levels' locks and
# changes, the ledger rows (one INSERT), the lines' figures (one UPDATE), the shipment, the
# events, COMMIT.
RECEIPT_TRIPS = 15
# A cancellation: as a receipt, with the source instead of the destination and without the
# products (nothing is written off).
CANCEL_TRIPS = 14
# An allocation: BEGIN, the check, the products (FOR SHARE), the locations (FOR SHARE), the
# levels' locks, their overdue reservations freed, the allocation, its lines and its picks
# (three INSERTs), the levels' change, the events, COMMIT.
ALLOCATE_TRIPS = 12


async def new_products(on: Counted, n: int) -> list[Item]:
    return [await new_product(on.client, on.manager, reorder_point=2) for _ in range(n)]


def count_body(on: Counted, products: list[Item], quantity: int) -> dict[str, Any]:
    lines = [{"product_id": p["id"], "counted": quantity} for p in products]
    return {"location_id": on.location["id"], "lines": lines}


async def levels_at(on: Counted, location: Item) -> dict[str, tuple[int, int]]:
    """Every level at `location`: product id → (on_hand, incoming)."""
    found: dict[str, tuple[int, int]] = {}
    params: dict[str, Any] = {"location_id": location["id"], "limit": 100}
    while True:
        page = await on.client.get(f"{API}/stock/levels", params=params, headers=on.clerk)
        assert page.status_code == 200, page.text
        body = page.json()
        found |= {i["product_id"]: (i["on_hand"], i["incoming"]) for i in body["items"]}
        if body["next_cursor"] is None:
            return found
        params["cursor"] = body["next_cursor"]


async def stocked_products(on: Counted, n: int) -> list[Item]:
    """`n` new products with 20 on hand each at the counted location (one batch of receipts)."""
    products = await new_products(on, n)
    lines = [
        {"product_id": p["id"], "location_id": on.location["id"], "kind": "receipt", "quantity": 20}
        for p in products
    ]
    response = await on.client.post(
        f"{API}/stock/batches", json={"movements": lines}, headers=on.clerk
    )
    assert response.status_code == 201, response.text
    return products


def shipment_body(on: Counted, to: Item, products: list[Item]) -> dict[str, Any]:
    return {
        "from_location_id": on.location["id"],
        "to_location_id": to["id"],
        "lines": [{"product_id": p["id"], "quantity": 4} for p in products],
    }


def allocation_body(products: list[Item]) -> dict[str, Any]:
    return {"lines": [{"product_id": p["id"], "quantity": 3} for p in products]}


def receipt_body(products: list[Item]) -> dict[str, Any]:
    return {"lines": [{"product_id": p["id"], "received": 3, "damaged": 1} for p in products]}
