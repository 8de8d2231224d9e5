"""Who did it: reservations and shipments name the user or API client that made them (kept
when someone else fulfils, releases, receives or cancels), each movement names who posted
it, and each event names who caused it. `created_by` names people only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.scopes import Scope
from src.models.api_client import ApiClient
from src.models.user import User
from tests.support.actors import client_actor, user_actor
from tests.support.clients import ClientHeaders, MakeApiClient
from tests.support.factories import Headers
from tests.support.stock import API, Stocked, reserve, ship


@pytest.fixture
async def shop(make_api_client: MakeApiClient) -> ApiClient:
    scopes = (Scope.STOCK_READ, Scope.RESERVATIONS_WRITE, Scope.SHIPMENTS_WRITE)
    return await make_api_client(scopes=scopes, name="Web Shop")


async def _event_actors(connection: AsyncConnection, record_id: str) -> list[tuple[str, Any]]:
    """(type, actor) of the events about a record (its id in `data`), oldest first."""
    rows = await connection.execute(
        text(
            "SELECT type, actor FROM events WHERE data->>'id' = :id"
            " OR data->>'reservation_id' = :id OR data->>'shipment_id' = :id ORDER BY seq"
        ),
        {"id": record_id},
    )
    return [(row.type, row.actor) for row in rows]


async def _count(connection: AsyncConnection, table: str) -> int:
    return int(await connection.scalar(text(f"SELECT count(*) FROM {table}")))  # noqa: S608


async def test_a_users_reservation_names_the_user(
    client: httpx.AsyncClient, clerk: User, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    made = await reserve(client, clerk_headers, product, a, 2)
    assert made.status_code == 201, made.text
    assert (made.json()["actor"], made.json()["created_by"]) == (user_actor(clerk), str(clerk.id))
    read = await client.get(f"{API}/stock/reservations/{made.json()['id']}", headers=clerk_headers)
    listed = await client.get(
        f"{API}/stock/reservations", params={"product_id": product["id"]}, headers=clerk_headers
    )
    assert read.json() == made.json()
    assert [item["actor"] for item in listed.json()["items"]] == [user_actor(clerk)]


async def test_a_clients_reservation_keeps_its_maker_while_events_name_each_actor(
    client: httpx.AsyncClient,
    shop: ApiClient,
    client_headers: ClientHeaders,
    clerk: User,
    clerk_headers: Headers,
    stocked: Stocked,
    connection: AsyncConnection,
) -> None:
    product, a, _ = stocked
    headers, by_shop, by_clerk = client_headers(shop), client_actor(shop), user_actor(clerk)
    made = await reserve(client, headers, product, a, 5)
    assert made.status_code == 201, made.text
    assert (made.json()["actor"], made.json()["created_by"]) == (by_shop, None)
    url = f"{API}/stock/reservations/{made.json()['id']}"

    fulfilled = await client.post(f"{url}/fulfil", json={"quantity": 2}, headers=headers)
    assert fulfilled.status_code == 201, fulfilled.text
    movement = fulfilled.json()["movement"]
    assert (movement["actor"], movement["created_by"]) == (by_shop, None)
    released = await client.post(f"{url}/release", headers=clerk_headers)
    assert released.status_code == 200, released.text
    # The record names its maker; the release is the clerk's, as its event says.
    assert released.json()["actor"] == by_shop
    assert (await client.get(url, headers=headers)).json()["actor"] == by_shop
    assert await _event_actors(connection, made.json()["id"]) == [
        ("reservation.created", by_shop),
        ("movement.created", by_shop),
        ("reservation.fulfilled", by_shop),
        ("reservation.released", by_clerk),
    ]


async def test_a_clients_shipment_names_it_and_each_movement_its_poster(
    client: httpx.AsyncClient,
    shop: ApiClient,
    client_headers: ClientHeaders,
    clerk: User,
    clerk_headers: Headers,
    stocked: Stocked,
    connection: AsyncConnection,
) -> None:
    product, a, b = stocked
    headers, by_shop, by_clerk = client_headers(shop), client_actor(shop), user_actor(clerk)
    sent = await ship(client, headers, a, b, (product, 6))
    assert sent.status_code == 201, sent.text
    assert (sent.json()["actor"], sent.json()["created_by"]) == (by_shop, None)
    url = f"{API}/stock/shipments/{sent.json()['id']}"

    receipt = {"lines": [{"product_id": product["id"], "received": 2, "damaged": 1}]}
    received = await client.post(f"{url}/receipts", json=receipt, headers=headers)
    assert received.status_code == 201, received.text
    canceled = await client.post(f"{url}/cancel", headers=clerk_headers)
    assert canceled.status_code == 200, canceled.text
    assert received.json()["actor"] == canceled.json()["actor"] == by_shop
    listed = await client.get(
        f"{API}/stock/movements", params={"product_id": product["id"]}, headers=clerk_headers
    )
    posted = [
        (m["kind"], m["quantity"], m["actor"], m["created_by"])
        for m in listed.json()["items"]
        if m["shipment_id"] == sent.json()["id"]
    ]
    # Sent, received (a unit written off) by the shop; what was left returned by the clerk.
    expected = [
        ("issue", -6, by_shop, None),
        ("receipt", 6, by_shop, None),
        ("issue", -3, by_shop, None),
        ("receipt", 3, by_shop, None),
        ("adjustment", -1, by_shop, None),
        ("issue", -3, by_clerk, str(clerk.id)),
        ("receipt", 3, by_clerk, str(clerk.id)),
    ]

    def order(movement: tuple[str, int, dict[str, str], str | None]) -> tuple[str, int, str]:
        return movement[0], movement[1], movement[2]["type"]

    assert sorted(posted, key=order) == sorted(expected, key=order)
    shipment_events = [
        (type_, actor)
        for type_, actor in await _event_actors(connection, sent.json()["id"])
        if type_.startswith("shipment.")
    ]
    assert shipment_events == [
        ("shipment.created", by_shop),
        ("shipment.received", by_shop),
        ("shipment.completed", by_clerk),  # a cancel after a receipt completes it
    ]


async def test_a_client_without_the_scope_reserves_and_ships_nothing(
    client: httpx.AsyncClient,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    stocked: Stocked,
    connection: AsyncConnection,
) -> None:
    product, a, b = stocked
    reader = await make_api_client(scopes=[Scope.STOCK_READ], name="Dashboard")
    headers = client_headers(reader)
    before = (await _count(connection, "reservations"), await _count(connection, "shipments"))
    reserved = await reserve(client, headers, product, a, 1)
    assert (reserved.status_code, reserved.json()["required_scope"]) == (
        403,
        "reservations:write",
    )
    shipped = await ship(client, headers, a, b, (product, 1))
    assert (shipped.status_code, shipped.json()["required_scope"]) == (403, "shipments:write")
    after = (await _count(connection, "reservations"), await _count(connection, "shipments"))
    assert after == before


async def test_a_client_acting_on_a_missing_or_short_record_leaves_no_trace(
    client: httpx.AsyncClient,
    shop: ApiClient,
    client_headers: ClientHeaders,
    stocked: Stocked,
    connection: AsyncConnection,
) -> None:
    product, a, b = stocked
    headers = client_headers(shop)
    missing = "01900000-0000-7000-8000-000000000000"
    gone = await client.post(f"{API}/stock/reservations/{missing}/fulfil", json={}, headers=headers)
    assert gone.status_code == 404
    short = await ship(client, headers, a, b, (product, 11))
    assert short.status_code == 409, short.text
    traces = await connection.scalar(
        text("SELECT count(*) FROM events WHERE actor->>'id' = :id"), {"id": str(shop.id)}
    )
    assert traces == 0
    assert await _count(connection, "shipments") == 0
