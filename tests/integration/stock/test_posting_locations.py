"""The Location of each posting: what it created, built by the router, replayed as stored."""

from __future__ import annotations

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import Item, new_location, new_product, post_movement, receive

STOCK = "/api/v1/stock"
MOVEMENTS = f"{STOCK}/movements"


@pytest.fixture
async def stocked(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> tuple[Item, Item, Item]:
    product = await new_product(client, manager_headers)
    a = await new_location(client, manager_headers)
    b = await new_location(client, manager_headers)
    await receive(client, clerk_headers, product, a, 10)
    return product, a, b


async def _listed(client: httpx.AsyncClient, headers: Headers, url: str) -> set[str]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200
    return {m["id"] for m in response.json()["items"]}


async def test_each_posting_points_at_what_it_created_and_a_replay_at_the_same(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, b = stocked
    keyed = {**clerk_headers, "Idempotency-Key": "locations-1"}
    movement = await post_movement(client, keyed, product, a, "issue", 1)
    transfer = await client.post(
        f"{STOCK}/transfers",
        json={
            "product_id": product["id"],
            "from_location_id": a["id"],
            "to_location_id": b["id"],
            "quantity": 2,
        },
        headers={**clerk_headers, "Idempotency-Key": "locations-2"},
    )
    count = await client.post(
        f"{STOCK}/counts",
        json={"location_id": b["id"], "lines": [{"product_id": product["id"], "counted": 5}]},
        headers={**clerk_headers, "Idempotency-Key": "locations-3"},
    )
    assert [r.status_code for r in (movement, transfer, count)] == [201, 201, 201]

    created = movement.json()
    assert movement.headers["location"] == f"{MOVEMENTS}/{created['id']}"
    read = await client.get(movement.headers["location"], headers=clerk_headers)
    assert read.json() == created
    legs = transfer.json()
    assert transfer.headers["location"] == f"{MOVEMENTS}?transfer_id={legs['transfer_id']}"
    assert await _listed(client, clerk_headers, transfer.headers["location"]) == {
        m["id"] for m in legs["movements"]
    }
    adjusted = count.json()
    assert count.headers["location"] == f"{MOVEMENTS}?count_id={adjusted['count_id']}"
    assert await _listed(client, clerk_headers, count.headers["location"]) == {
        m["id"] for m in adjusted["movements"]
    }

    # Replays answer with the stored Location, not a new one.
    again = await post_movement(client, keyed, product, a, "issue", 1)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == movement.headers["location"]
    # ... and post nothing: receipt, issue, two transfer legs, one count adjustment.
    ledger = await _listed(client, clerk_headers, f"{MOVEMENTS}?product_id={product['id']}")
    assert len(ledger) == 5


async def test_a_refused_posting_has_no_location(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, _, b = stocked
    response = await post_movement(client, clerk_headers, product, b, "issue", 1)
    assert response.status_code == 409
    assert "location" not in response.headers
    replayed_key = {**clerk_headers, "Idempotency-Key": "refused-1"}
    first = await post_movement(client, replayed_key, product, b, "issue", 1)
    assert first.status_code == 409
    assert "location" not in first.headers
    # Nothing was stored for the refused key: the same key now succeeds and points at its work.
    await receive(client, clerk_headers, product, b, 1)
    retried = await post_movement(client, replayed_key, product, b, "issue", 1)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert retried.headers["location"] == f"{MOVEMENTS}/{retried.json()['id']}"


async def test_a_posting_refused_by_validation_has_no_location(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: tuple[Item, Item, Item]
) -> None:
    product, a, _ = stocked
    response = await post_movement(client, clerk_headers, product, a, "adjustment", 3)
    assert response.status_code == 422
    assert "location" not in response.headers
