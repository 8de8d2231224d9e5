"""Allocation requests that are refused (bad input, unknown or unusable records, callers
without the right), replays, and the reads: one allocation and the paged list."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.scopes import CLIENT_SCOPES, Scope
from tests.support.allocations import (
    ALLOCATIONS,
    Warehouses,
    allocate,
    allocated,
    count_rows,
    want,
)
from tests.support.clients import ClientHeaders, MakeApiClient
from tests.support.factories import Headers
from tests.support.stock import API, level, new_location, ship


async def _nothing_held(connection: AsyncConnection) -> None:
    assert await count_rows(connection, "SELECT count(*) FROM allocations") == 0
    assert await count_rows(connection, "SELECT count(*) FROM reservations") == 0
    assert await count_rows(connection, "SELECT coalesce(sum(reserved), 0) FROM stock_levels") == 0


@pytest.mark.parametrize(
    "change",
    [
        {"lines": []},
        {"lines": [{"quantity": 0}]},
        {"lines": [{"quantity": 1_000_000_000_001}]},
        {"lines": [{"quantity": "2"}]},
        {"lines": [{"quantity": 2.0}]},
        {"lines": [{"product_id": "nope"}]},
        {"lines": [{"extra": 1}]},
        {"expires_in": 59},
        {"expires_in": 2592001},
        {"split": "false"},
        {"single_location": 1},
        {"locations": ["nope"]},
        {"locations": [str(uuid.uuid4()) for _ in range(101)]},
        {"reference": "x" * 201},
        {"status": "active"},
    ],
)
async def test_bad_allocation_bodies_are_422_and_hold_nothing(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
    change: dict[str, Any],
) -> None:
    body: dict[str, Any] = {"lines": [want(warehouses.p, 2)]}
    if change.get("lines"):
        body["lines"] = [{**want(warehouses.p, 2), **change["lines"][0]}]
    else:
        body.update(change)
    response = await client.post(ALLOCATIONS, json=body, headers=clerk_headers)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/validation-error"
    await _nothing_held(connection)


async def test_more_than_100_lines_are_422(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    lines = [want(warehouses.p, 1)] * 101
    response = await allocate(client, clerk_headers, *lines)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "lines"]


async def test_unknown_or_archived_products_are_refused(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    unknown = {"product_id": str(uuid.uuid4()), "quantity": 1}
    response = await allocate(client, clerk_headers, want(w.p, 1), unknown)
    assert response.status_code == 404
    assert response.json()["detail"] == "No product with this id"
    spare = await client.post(
        f"{API}/products", json={"sku": "SPARE-1", "name": "Spare"}, headers=manager_headers
    )
    assert (
        await client.delete(f"{API}/products/{spare.json()['id']}", headers=manager_headers)
    ).status_code == 204
    archived = await allocate(client, clerk_headers, want(w.p, 1), want(spare.json(), 1))
    assert archived.status_code == 409
    assert "archived" in archived.json()["detail"]
    await _nothing_held(connection)


async def test_unknown_archived_or_transit_locations_are_refused(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    nowhere = {"id": str(uuid.uuid4())}
    pinned = await allocate(client, clerk_headers, want(w.p, 1, nowhere))
    assert pinned.status_code == 404
    assert pinned.json()["detail"] == "No location with this id"
    preferred = await allocate(client, clerk_headers, want(w.p, 1), locations=[nowhere["id"]])
    assert preferred.status_code == 404
    empty = await new_location(client, manager_headers)
    assert (
        await client.delete(f"{API}/locations/{empty['id']}", headers=manager_headers)
    ).status_code == 204
    archived = await allocate(client, clerk_headers, want(w.p, 1), locations=[empty["id"]])
    assert archived.status_code == 409
    assert "archived" in archived.json()["detail"]
    shipped = await ship(client, clerk_headers, w.w1, w.w2, (w.q, 1))
    assert shipped.status_code == 201, shipped.text
    listed = await client.get(f"{API}/locations", params={"limit": 100}, headers=clerk_headers)
    (transit,) = [item for item in listed.json()["items"] if item["is_transit"]]
    in_transit = await allocate(client, clerk_headers, want(w.q, 1, transit))
    assert in_transit.status_code == 409
    assert "transit" in in_transit.json()["detail"]
    # Stock in transit is never a source either: the rest of q is at w1 (3) and w3 (6).
    body = await allocated(client, clerk_headers, want(w.q, 9))
    assert {p["location_id"] for p in body["lines"][0]["picks"]} == {w.w1["id"], w.w3["id"]}


async def test_allocating_needs_a_clerk_a_token_and_the_scope(
    client: httpx.AsyncClient,
    viewer_headers: Headers,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    line = want(warehouses.p, 1)
    assert (await allocate(client, viewer_headers, line)).status_code == 403
    assert (await allocate(client, {}, line)).status_code == 401
    system = await make_api_client(scopes=CLIENT_SCOPES - {Scope.RESERVATIONS_WRITE})
    refused = await allocate(client, client_headers(system), line)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/insufficient-scope"
    await _nothing_held(connection)
    allowed = await make_api_client(scopes=[Scope.RESERVATIONS_WRITE])
    made = await allocate(client, client_headers(allowed), line)
    assert made.status_code == 201, made.text
    assert made.json()["actor"]["type"] == "client"
    assert made.json()["created_by"] is None


async def test_an_idempotency_key_replays_the_allocation(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    headers = {**clerk_headers, "Idempotency-Key": f"alloc-{uuid.uuid4()}"}
    first = await allocate(client, headers, want(warehouses.p, 4))
    assert first.status_code == 201, first.text
    again = await allocate(client, headers, want(warehouses.p, 4))
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    other = await allocate(client, headers, want(warehouses.p, 5))
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert await count_rows(connection, "SELECT count(*) FROM allocations") == 1
    assert (await level(client, clerk_headers, warehouses.p, warehouses.w2))["reserved"] == 4


async def test_reading_one_allocation(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    viewer_headers: Headers,
    warehouses: Warehouses,
) -> None:
    body = await allocated(client, clerk_headers, want(warehouses.p, 2))
    read = await client.get(f"{ALLOCATIONS}/{body['id']}", headers=viewer_headers)
    assert read.status_code == 200
    assert read.json() == body
    missing = await client.get(f"{ALLOCATIONS}/{uuid.uuid4()}", headers=viewer_headers)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No allocation with this id"
    assert (await client.get(f"{ALLOCATIONS}/nope", headers=viewer_headers)).status_code == 422
    assert (await client.get(f"{ALLOCATIONS}/{body['id']}")).status_code == 401


async def test_the_list_filters_and_pages_newest_first(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    viewer_headers: Headers,
    warehouses: Warehouses,
) -> None:
    made = [
        await allocated(client, clerk_headers, want(warehouses.p, 1), reference=ref)
        for ref in ("SO-A", "SO-B", "SO-A")
    ]
    released = await client.post(f"{ALLOCATIONS}/{made[0]['id']}/release", headers=clerk_headers)
    assert released.status_code == 200, released.text
    page = await client.get(ALLOCATIONS, params={"limit": 2}, headers=viewer_headers)
    assert page.status_code == 200
    assert [a["id"] for a in page.json()["items"]] == [made[2]["id"], made[1]["id"]]
    rest = await client.get(
        ALLOCATIONS,
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=viewer_headers,
    )
    assert [a["id"] for a in rest.json()["items"]] == [made[0]["id"]]
    assert rest.json()["next_cursor"] is None
    by_reference = await client.get(
        ALLOCATIONS, params={"reference": "SO-A"}, headers=viewer_headers
    )
    assert [a["id"] for a in by_reference.json()["items"]] == [made[2]["id"], made[0]["id"]]
    by_status = await client.get(ALLOCATIONS, params={"status": "released"}, headers=viewer_headers)
    assert [(a["id"], a["status"]) for a in by_status.json()["items"]] == [
        (made[0]["id"], "released")
    ]
    assert by_status.json()["items"][0]["lines"][0]["picks"] == made[0]["lines"][0]["picks"]
    bad = await client.get(ALLOCATIONS, params={"status": "gone"}, headers=viewer_headers)
    assert bad.status_code == 422
    unknown = await client.get(
        ALLOCATIONS, params={"product_id": str(uuid.uuid4())}, headers=viewer_headers
    )
    assert unknown.status_code == 422
    assert (
        await client.get(ALLOCATIONS, params={"cursor": "bogus"}, headers=viewer_headers)
    ).status_code == 400
    assert (await client.get(ALLOCATIONS)).status_code == 401
