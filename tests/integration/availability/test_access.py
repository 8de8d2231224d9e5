"""Who may change reservations and shipments, and what an unknown or malformed id gets:
reads are anyone's, changes a clerk's, and nothing changes on a refusal."""

from __future__ import annotations

import httpx
import pytest

from tests.support.factories import Headers
from tests.support.stock import API, Stocked, level, reserve, ship

UNKNOWN = "0190a3a8-0000-7000-8000-000000000000"


@pytest.mark.parametrize("resource", ["reservations", "shipments"])
async def test_one_record_unknown_is_404_and_malformed_is_422(
    client: httpx.AsyncClient, viewer_headers: Headers, resource: str
) -> None:
    unknown = await client.get(f"{API}/stock/{resource}/{UNKNOWN}", headers=viewer_headers)
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/not-found"
    malformed = await client.get(f"{API}/stock/{resource}/not-an-id", headers=viewer_headers)
    assert malformed.status_code == 422
    assert (await client.get(f"{API}/stock/{resource}/{UNKNOWN}")).status_code == 401


async def test_a_viewer_may_read_but_not_fulfil_a_reservation(
    client: httpx.AsyncClient, clerk_headers: Headers, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    held = (await reserve(client, clerk_headers, product, a, 3)).json()
    url = f"{API}/stock/reservations/{held['id']}"
    assert (await client.get(url, headers=viewer_headers)).json()["remaining"] == 3
    assert (await client.post(f"{url}/fulfil", headers=viewer_headers)).status_code == 403
    assert (await client.post(f"{url}/fulfil")).status_code == 401
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"]) == (10, 3)


async def test_a_viewer_may_read_but_not_receive_or_cancel_a_shipment(
    client: httpx.AsyncClient, clerk_headers: Headers, viewer_headers: Headers, stocked: Stocked
) -> None:
    product, a, b = stocked
    shipment = (await ship(client, clerk_headers, a, b, (product, 4))).json()
    url = f"{API}/stock/shipments/{shipment['id']}"
    read = await client.get(url, headers=viewer_headers)
    assert (read.json()["status"], read.headers["etag"]) == ("in_transit", '"v1"')
    line = {"lines": [{"product_id": product["id"], "received": 4}]}
    for headers, status in ((viewer_headers, 403), ({}, 401)):
        assert (
            await client.post(f"{url}/receipts", json=line, headers=headers)
        ).status_code == status
        assert (await client.post(f"{url}/cancel", headers=headers)).status_code == status
    unknown = url.replace(shipment["id"], UNKNOWN)
    assert (await client.post(f"{unknown}/cancel", headers=clerk_headers)).status_code == 404
    shown = await level(client, clerk_headers, product, b)
    assert (shown["on_hand"], shown["incoming"]) == (0, 4)
