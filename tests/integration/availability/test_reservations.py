"""Reservations over HTTP: hold, fulfil, release, list; what they do to levels and the feed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import API, Stocked, level, post_movement, post_transfer, reserve


async def _reserved(client: httpx.AsyncClient, headers: Headers, stocked: Stocked, n: int) -> Any:
    product, a, _ = stocked
    response = await reserve(client, headers, product, a, n, reference="SO-1")
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_reservation_holds_stock_that_issues_cannot_take(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    response = await reserve(client, clerk_headers, product, a, 7, reference="SO-1")
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{API}/stock/reservations/{body['id']}"
    assert body["status"] == "active"
    assert (body["quantity"], body["remaining"], body["reference"]) == (7, 7, "SO-1")
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (10, 7, 3)

    issue = await post_movement(client, clerk_headers, product, a, "issue", 4)
    assert issue.status_code == 409
    assert issue.json()["type"] == "/problems/insufficient-stock"
    assert issue.json()["available"] == 3
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 10


async def test_reserving_more_than_is_available_changes_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    await _reserved(client, clerk_headers, stocked, 6)
    response = await reserve(client, clerk_headers, product, a, 5)
    assert response.status_code == 409
    assert response.json()["available"] == 4
    nowhere = await reserve(client, clerk_headers, product, b, 1)
    assert nowhere.status_code == 409
    assert nowhere.json()["available"] == 0
    assert (await level(client, clerk_headers, product, a))["reserved"] == 6


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": 0},
        {"quantity": "3"},
        {"expires_in": 59},
        {"expires_in": 2592001},
        {"status": "fulfilled"},
    ],
)
async def test_bad_reservation_bodies_are_422(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, body: dict[str, Any]
) -> None:
    product, a, _ = stocked
    response = await reserve(client, clerk_headers, product, a, **{"quantity": 1, **body})
    assert response.status_code == 422, response.text
    assert (await level(client, clerk_headers, product, a))["reserved"] == 0


async def test_reserving_needs_a_clerk_and_a_token(
    client: httpx.AsyncClient, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    assert (await reserve(client, viewer_headers, product, a, 1)).status_code == 403
    assert (await reserve(client, {}, product, a, 1)).status_code == 401


async def test_reserving_unknown_or_archived_items(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    ghost = {"id": "0190a3a8-0000-7000-8000-000000000000"}
    assert (await reserve(client, clerk_headers, ghost, a, 1)).status_code == 404
    assert (await reserve(client, clerk_headers, product, ghost, 1)).status_code == 404
    archived = await client.delete(f"{API}/locations/{b['id']}", headers=manager_headers)
    assert archived.status_code == 204
    assert (await reserve(client, clerk_headers, product, b, 1)).status_code == 409


async def test_fulfilling_issues_the_reserved_stock(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    held = await _reserved(client, clerk_headers, stocked, 7)
    url = f"{API}/stock/reservations/{held['id']}"

    part = await client.post(f"{url}/fulfil", json={"quantity": 3}, headers=clerk_headers)
    assert part.status_code == 201, part.text
    body = part.json()
    assert (body["reservation"]["remaining"], body["reservation"]["status"]) == (4, "active")
    movement = body["movement"]
    assert part.headers["location"] == f"{API}/stock/movements/{movement['id']}"
    assert (movement["kind"], movement["quantity"], movement["balance_after"]) == ("issue", -3, 7)
    assert movement["reservation_id"] == held["id"]
    assert movement["reference"] == "SO-1"
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (7, 4, 3)

    rest = await client.post(f"{url}/fulfil", headers=clerk_headers)
    assert rest.status_code == 201, rest.text
    assert rest.json()["reservation"]["status"] == "fulfilled"
    assert rest.json()["reservation"]["remaining"] == 0
    assert rest.json()["movement"]["quantity"] == -4
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (3, 0, 3)

    again = await client.post(f"{url}/fulfil", headers=clerk_headers)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/conflict"


async def test_fulfilling_more_than_remains_is_422_and_changes_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    held = await _reserved(client, clerk_headers, stocked, 2)
    url = f"{API}/stock/reservations/{held['id']}/fulfil"
    too_many = await client.post(url, json={"quantity": 3}, headers=clerk_headers)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["loc"] == ["body", "quantity"]
    for bad in ({"quantity": 0}, {"quantity": 1, "extra": True}):
        assert (await client.post(url, json=bad, headers=clerk_headers)).status_code == 422
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"]) == (10, 2)


async def test_releasing_makes_the_stock_available_again(
    client: httpx.AsyncClient, clerk_headers: Headers, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    held = await _reserved(client, clerk_headers, stocked, 8)
    url = f"{API}/stock/reservations/{held['id']}/release"
    assert (await post_transfer(client, clerk_headers, product, a, b, 3)).status_code == 409
    assert (await client.post(url, headers=viewer_headers)).status_code == 403

    released = await client.post(url, headers=clerk_headers)
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    assert (await level(client, clerk_headers, product, a))["available"] == 10
    assert (await post_transfer(client, clerk_headers, product, a, b, 3)).status_code == 201

    again = await client.post(url, headers=clerk_headers)
    assert again.status_code == 409
    fulfil = await client.post(url.replace("release", "fulfil"), headers=clerk_headers)
    assert fulfil.status_code == 409
    missing = url.replace(held["id"], "0190a3a8-0000-7000-8000-000000000000")
    assert (await client.post(missing, headers=clerk_headers)).status_code == 404


async def test_reservations_are_listed_newest_first_and_filtered(
    client: httpx.AsyncClient, clerk_headers: Headers, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    first = await _reserved(client, clerk_headers, stocked, 1)
    second = (await reserve(client, clerk_headers, product, a, 2, reference="SO-2")).json()
    await client.post(f"{API}/stock/reservations/{first['id']}/release", headers=clerk_headers)

    listed = await client.get(
        f"{API}/stock/reservations", params={"product_id": product["id"]}, headers=viewer_headers
    )
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["items"]] == [second["id"], first["id"]]
    active = await client.get(
        f"{API}/stock/reservations",
        params={"product_id": product["id"], "status": "active", "limit": 1},
        headers=viewer_headers,
    )
    assert [r["id"] for r in active.json()["items"]] == [second["id"]]
    by_reference = await client.get(
        f"{API}/stock/reservations", params={"reference": "SO-2"}, headers=viewer_headers
    )
    assert [r["id"] for r in by_reference.json()["items"]] == [second["id"]]
    one = await client.get(f"{API}/stock/reservations/{first['id']}", headers=viewer_headers)
    assert one.json()["status"] == "released"

    for bad in ({"status": "gone"}, {"product_id": "nope"}, {"cursor": "forged"}):
        response = await client.get(f"{API}/stock/reservations", params=bad, headers=viewer_headers)
        assert response.status_code in (400, 422), response.text
    assert (await client.get(f"{API}/stock/reservations")).status_code == 401


async def test_reconciliation_finds_reserved_stock_no_reservation_holds(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    admin_headers: Headers,
    connection: AsyncConnection,
    stocked: Stocked,
) -> None:
    product, a, _ = stocked
    held = await client.post(
        f"{API}/stock/reservations",
        json={"product_id": product["id"], "location_id": a["id"], "quantity": 4},
        headers=clerk_headers,
    )
    assert held.status_code == 201
    clean = await client.get(f"{API}/stock/reconciliation", headers=admin_headers)
    assert clean.json()["mismatches"] == []
    await connection.execute(
        text(
            "UPDATE stock_levels SET reserved = reserved + 2"
            " WHERE product_id = :p AND location_id = :l"
        ),
        {"p": product["id"], "l": a["id"]},
    )
    dirty = (await client.get(f"{API}/stock/reconciliation", headers=admin_headers)).json()
    assert dirty["mismatches"] == [
        {
            "product_id": product["id"],
            "location_id": a["id"],
            "on_hand": 10,
            "ledger": 10,
            "reserved": 6,
            "held": 4,
            "incoming": 0,
            "pending_to_here": 0,
            "pending_in_transit": None,
        }
    ]
