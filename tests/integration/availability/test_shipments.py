"""Shipments over HTTP: stock leaves at once into transit, shows as incoming, arrives by
receipts (damaged units written off), or returns when canceled; the ledger accounts for it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import (
    API,
    Item,
    Stocked,
    assert_reconciled,
    level,
    new_product,
    post_movement,
    receive,
    ship,
)


async def _shipped(client: httpx.AsyncClient, headers: Headers, stocked: Stocked, n: int) -> Any:
    product, a, b = stocked
    response = await ship(client, headers, a, b, (product, n), reference="PO-7")
    assert response.status_code == 201, response.text
    return response.json()


async def _transit(client: httpx.AsyncClient, headers: Headers) -> Item:
    listed = (await client.get(f"{API}/locations", params={"limit": 100}, headers=headers)).json()
    (transit,) = [location for location in listed["items"] if location["is_transit"]]
    return transit


async def test_shipping_moves_stock_into_transit_and_shows_it_incoming(
    client: httpx.AsyncClient, clerk_headers: Headers, admin_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    response = await ship(client, clerk_headers, a, b, (product, 4), reference="PO-7")
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{API}/stock/shipments/{body['id']}"
    assert response.headers["etag"] == '"v1"'
    assert (body["status"], body["reference"], body["version"]) == ("in_transit", "PO-7", 1)
    assert body["lines"] == [
        {
            "product_id": product["id"],
            "shipped": 4,
            "received": 0,
            "damaged": 0,
            "canceled": 0,
            "pending": 4,
        }
    ]
    source = await level(client, clerk_headers, product, a)
    target = await level(client, clerk_headers, product, b)
    assert (source["on_hand"], source["available"]) == (6, 6)
    assert (target["on_hand"], target["incoming"]) == (0, 4)
    transit = await _transit(client, clerk_headers)
    assert (await level(client, clerk_headers, product, transit))["on_hand"] == 4
    ledger = await client.get(
        f"{API}/stock/movements", params={"product_id": product["id"]}, headers=clerk_headers
    )
    legs = [m for m in ledger.json()["items"] if m["shipment_id"] == body["id"]]
    assert sorted((m["location_id"], m["quantity"]) for m in legs) == sorted(
        [(a["id"], -4), (transit["id"], 4)]
    )
    await assert_reconciled(client, admin_headers)


async def test_a_shipment_takes_only_available_stock_and_all_lines_or_none(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    other = await new_product(client, manager_headers)
    await receive(client, clerk_headers, other, a, 3)
    held = await client.post(
        f"{API}/stock/reservations",
        json={"product_id": product["id"], "location_id": a["id"], "quantity": 8},
        headers=clerk_headers,
    )
    assert held.status_code == 201
    response = await ship(client, clerk_headers, a, b, (other, 3), (product, 3))
    assert response.status_code == 409
    problem = response.json()
    assert (problem["type"], problem["available"], problem["line"]) == (
        "/problems/insufficient-stock",
        2,
        1,
    )
    assert (await level(client, clerk_headers, other, a))["on_hand"] == 3
    assert (await level(client, clerk_headers, product, b))["incoming"] == 0
    listed = await client.get(f"{API}/stock/shipments", headers=clerk_headers)
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body.update(to_location_id=body["from_location_id"]),
        lambda body: body.update(lines=[]),
        lambda body: body.update(lines=body["lines"] * 2),
        lambda body: body["lines"][0].update(quantity=0),
        lambda body: body.update(status="completed"),
    ],
)
async def test_bad_shipment_bodies_are_422_and_ship_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, change: Any
) -> None:
    product, a, b = stocked
    body = {
        "from_location_id": a["id"],
        "to_location_id": b["id"],
        "lines": [{"product_id": product["id"], "quantity": 1}],
    }
    change(body)
    response = await client.post(f"{API}/stock/shipments", json=body, headers=clerk_headers)
    assert response.status_code == 422, response.text
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 10


async def test_shipping_needs_a_clerk_known_places_and_no_transit_postings(
    client: httpx.AsyncClient, clerk_headers: Headers, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    assert (await ship(client, viewer_headers, a, b, (product, 1))).status_code == 403
    assert (await ship(client, {}, a, b, (product, 1))).status_code == 401
    ghost = {"id": "0190a3a8-0000-7000-8000-000000000000"}
    assert (await ship(client, clerk_headers, a, ghost, (product, 1))).status_code == 404
    assert (await ship(client, clerk_headers, a, b, (ghost, 1))).status_code == 404
    await _shipped(client, clerk_headers, stocked, 1)
    transit = await _transit(client, clerk_headers)
    for kind in ("receipt", "issue"):
        posted = await post_movement(client, clerk_headers, product, transit, kind, 1)
        assert posted.status_code == 409
        assert "shipments only" in posted.json()["detail"]
    assert (await ship(client, clerk_headers, transit, b, (product, 1))).status_code == 409


async def test_receipts_bring_stock_in_and_write_off_what_arrived_damaged(
    client: httpx.AsyncClient, clerk_headers: Headers, admin_headers: Headers, stocked: Stocked
) -> None:
    product, _, b = stocked
    shipment = await _shipped(client, clerk_headers, stocked, 6)
    url = f"{API}/stock/shipments/{shipment['id']}/receipts"
    line = {"product_id": product["id"], "received": 2, "damaged": 1}
    first = await client.post(
        url, json={"lines": [line]}, headers={**clerk_headers, "If-Match": '"v1"'}
    )
    assert first.status_code == 201, first.text
    assert first.headers["etag"] == '"v2"'
    body = first.json()
    assert body["status"] == "partially_received"
    assert body["lines"][0] == {
        "product_id": product["id"],
        "shipped": 6,
        "received": 2,
        "damaged": 1,
        "canceled": 0,
        "pending": 3,
    }
    target = await level(client, clerk_headers, product, b)
    assert (target["on_hand"], target["incoming"]) == (2, 3)
    ledger = await client.get(
        f"{API}/stock/movements",
        params={"location_id": b["id"], "kind": "adjustment"},
        headers=clerk_headers,
    )
    (damage,) = ledger.json()["items"]
    assert (damage["reason"], damage["quantity"], damage["shipment_id"]) == (
        "damage",
        -1,
        shipment["id"],
    )

    stale = await client.post(
        url,
        json={"lines": [{"product_id": product["id"], "received": 1}]},
        headers={**clerk_headers, "If-Match": '"v1"'},
    )
    assert stale.status_code == 412
    rest = await client.post(
        url, json={"lines": [{"product_id": product["id"], "received": 3}]}, headers=clerk_headers
    )
    assert rest.json()["status"] == "completed"
    target = await level(client, clerk_headers, product, b)
    assert (target["on_hand"], target["incoming"]) == (5, 0)
    done = await client.post(
        url, json={"lines": [{"product_id": product["id"], "received": 1}]}, headers=clerk_headers
    )
    assert done.status_code == 409
    transit = await _transit(client, clerk_headers)
    assert (await level(client, clerk_headers, product, transit))["on_hand"] == 0
    await assert_reconciled(client, admin_headers)


async def test_bad_receipts_are_422_and_receive_nothing(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    product, _, b = stocked
    shipment = await _shipped(client, clerk_headers, stocked, 3)
    url = f"{API}/stock/shipments/{shipment['id']}/receipts"
    other = await new_product(client, manager_headers)
    bad_bodies = [
        {"lines": [{"product_id": product["id"], "received": 4}]},
        {"lines": [{"product_id": product["id"], "received": 2, "damaged": 2}]},
        {"lines": [{"product_id": other["id"], "received": 1}]},
        {"lines": [{"product_id": product["id"]}]},
        {"lines": []},
        {"lines": [{"product_id": product["id"], "received": -1}]},
    ]
    for bad in bad_bodies:
        response = await client.post(url, json=bad, headers=clerk_headers)
        assert response.status_code == 422, (bad, response.text)
    assert (await level(client, clerk_headers, product, b))["incoming"] == 3
    missing = url.replace(shipment["id"], "0190a3a8-0000-7000-8000-000000000000")
    ok_line = {"lines": [{"product_id": product["id"], "received": 1}]}
    assert (await client.post(missing, json=ok_line, headers=clerk_headers)).status_code == 404


async def test_canceling_returns_what_is_pending_to_the_source(
    client: httpx.AsyncClient, clerk_headers: Headers, admin_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    untouched = await _shipped(client, clerk_headers, stocked, 2)
    canceled = await client.post(
        f"{API}/stock/shipments/{untouched['id']}/cancel", headers=clerk_headers
    )
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["lines"][0]["canceled"] == 2
    assert (await level(client, clerk_headers, product, a))["on_hand"] == 10

    partly = await _shipped(client, clerk_headers, stocked, 5)
    url = f"{API}/stock/shipments/{partly['id']}"
    await client.post(
        f"{url}/receipts",
        json={"lines": [{"product_id": product["id"], "received": 2}]},
        headers=clerk_headers,
    )
    stale = await client.post(f"{url}/cancel", headers={**clerk_headers, "If-Match": '"v1"'})
    assert stale.status_code == 412
    ended = await client.post(f"{url}/cancel", headers=clerk_headers)
    assert ended.json()["status"] == "completed"
    assert ended.json()["lines"][0]["pending"] == 0
    source = await level(client, clerk_headers, product, a)
    target = await level(client, clerk_headers, product, b)
    assert (source["on_hand"], target["on_hand"], target["incoming"]) == (8, 2, 0)
    again = await client.post(f"{url}/cancel", headers=clerk_headers)
    assert again.status_code == 409
    await assert_reconciled(client, admin_headers)


async def test_shipments_are_listed_newest_first_and_filtered(
    client: httpx.AsyncClient, clerk_headers: Headers, viewer_headers: Headers, stocked: Stocked
) -> None:
    first = await _shipped(client, clerk_headers, stocked, 1)
    second = await _shipped(client, clerk_headers, stocked, 2)
    await client.post(f"{API}/stock/shipments/{first['id']}/cancel", headers=clerk_headers)
    listed = await client.get(f"{API}/stock/shipments", headers=viewer_headers)
    assert [s["id"] for s in listed.json()["items"]] == [second["id"], first["id"]]
    in_transit = await client.get(
        f"{API}/stock/shipments", params={"status": "in_transit"}, headers=viewer_headers
    )
    assert [s["id"] for s in in_transit.json()["items"]] == [second["id"]]
    one = await client.get(f"{API}/stock/shipments/{first['id']}", headers=viewer_headers)
    assert (one.json()["status"], one.headers["etag"]) == ("canceled", '"v2"')
    for bad in ({"status": "lost"}, {"to_location_id": "x"}, {"cursor": "forged"}):
        response = await client.get(f"{API}/stock/shipments", params=bad, headers=viewer_headers)
        assert response.status_code in (400, 422)
    assert (await client.get(f"{API}/stock/shipments")).status_code == 401


async def test_the_transit_location_cannot_be_archived(
    client: httpx.AsyncClient, clerk_headers: Headers, manager_headers: Headers, stocked: Stocked
) -> None:
    shipment = await _shipped(client, clerk_headers, stocked, 1)
    await client.post(f"{API}/stock/shipments/{shipment['id']}/cancel", headers=clerk_headers)
    transit = await _transit(client, clerk_headers)
    assert transit["code"] == "~in-transit"
    response = await client.delete(f"{API}/locations/{transit['id']}", headers=manager_headers)
    assert response.status_code == 409
    assert "transit" in response.json()["detail"]
    shown = await client.get(f"{API}/locations/{transit['id']}", headers=clerk_headers)
    assert shown.json()["is_archived"] is False
