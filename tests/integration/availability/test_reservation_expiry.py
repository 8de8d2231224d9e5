"""Overdue reservations hold nothing, counts shrink reservations, and every change is in the
change feed. Expiry is made to have happened by moving `expires_at` into the past (the
contract's shortest reservation lasts a minute)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import (
    API,
    Stocked,
    level,
    post_count,
    post_movement,
    post_transfer,
    reserve,
)


async def _backdate(connection: AsyncConnection, reservation: dict[str, Any]) -> None:
    await connection.execute(
        text("UPDATE reservations SET expires_at = now() - interval '1 second' WHERE id = :id"),
        {"id": reservation["id"]},
    )


async def _events(connection: AsyncConnection, type_: str, reservation_id: str) -> list[Any]:
    rows = await connection.execute(
        text("SELECT data FROM events WHERE type = :t AND data->>'id' = :id ORDER BY seq"),
        {"t": type_, "id": reservation_id},
    )
    return [row.data for row in rows]


async def _hold(client: httpx.AsyncClient, headers: Headers, stocked: Stocked, n: int) -> Any:
    product, a, _ = stocked
    response = await reserve(client, headers, product, a, n)
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_issue_short_of_stock_first_frees_overdue_reservations(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    overdue = await _hold(client, clerk_headers, stocked, 6)
    current = await _hold(client, clerk_headers, stocked, 3)
    await _backdate(connection, overdue)

    issue = await post_movement(client, clerk_headers, product, a, "issue", 7)
    assert issue.status_code == 201, issue.text
    assert issue.json()["balance_after"] == 3
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (3, 3, 0)
    url = f"{API}/stock/reservations"
    assert (await client.get(f"{url}/{overdue['id']}", headers=clerk_headers)).json()[
        "status"
    ] == "expired"
    assert (await client.get(f"{url}/{current['id']}", headers=clerk_headers)).json()[
        "status"
    ] == "active"
    expired = await _events(connection, "reservation.expired", overdue["id"])
    assert [e["status"] for e in expired] == ["expired"]


async def test_an_issue_that_fits_leaves_overdue_reservations_to_the_sweeper(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    overdue = await _hold(client, clerk_headers, stocked, 6)
    await _backdate(connection, overdue)
    assert (await post_movement(client, clerk_headers, product, a, "issue", 2)).status_code == 201
    assert (await level(client, clerk_headers, product, a))["reserved"] == 6
    assert await _events(connection, "reservation.expired", overdue["id"]) == []


async def test_a_transfer_and_a_reservation_free_overdue_stock_too(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, b = stocked
    overdue = await _hold(client, clerk_headers, stocked, 10)
    await _backdate(connection, overdue)
    assert (await post_transfer(client, clerk_headers, product, a, b, 4)).status_code == 201
    assert (await reserve(client, clerk_headers, product, a, 6)).status_code == 201
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (6, 6, 0)
    assert len(await _events(connection, "reservation.expired", overdue["id"])) == 1


async def test_an_overdue_reservation_can_be_neither_fulfilled_nor_released(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    overdue = await _hold(client, clerk_headers, stocked, 4)
    await _backdate(connection, overdue)
    url = f"{API}/stock/reservations/{overdue['id']}"
    for action in ("fulfil", "release"):
        response = await client.post(f"{url}/{action}", headers=clerk_headers)
        assert response.status_code == 409, response.text
        assert "expired" in response.json()["detail"]
    # The first refusal expired it on the spot: its stock is free, nothing was issued.
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"]) == (10, 0)
    assert (await client.get(url, headers=clerk_headers)).json()["status"] == "expired"
    assert len(await _events(connection, "reservation.expired", overdue["id"])) == 1


async def test_a_count_below_what_is_reserved_shrinks_the_newest_reservations(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    oldest = await _hold(client, clerk_headers, stocked, 3)
    middle = await _hold(client, clerk_headers, stocked, 2)
    newest = await _hold(client, clerk_headers, stocked, 4)

    counted = await post_count(client, clerk_headers, a, (product, 4))
    assert counted.status_code == 201, counted.text
    body = counted.json()
    shortened = {r["id"]: (r["remaining"], r["status"]) for r in body["reservations_shortened"]}
    assert shortened == {newest["id"]: (0, "released"), middle["id"]: (1, "active")}
    assert [m["quantity"] for m in body["movements"]] == [-6]
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (4, 4, 0)
    untouched = await client.get(f"{API}/stock/reservations/{oldest['id']}", headers=clerk_headers)
    assert untouched.json()["remaining"] == 3
    assert len(await _events(connection, "reservation.released", middle["id"])) == 1
    assert len(await _events(connection, "reservation.released", newest["id"])) == 1


async def test_a_count_frees_overdue_reservations_before_shrinking_live_ones(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked
    live = await _hold(client, clerk_headers, stocked, 3)
    overdue = await _hold(client, clerk_headers, stocked, 5)
    await _backdate(connection, overdue)
    body = (await post_count(client, clerk_headers, a, (product, 3))).json()
    assert body["reservations_shortened"] == []
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"]) == (3, 3)
    assert len(await _events(connection, "reservation.expired", overdue["id"])) == 1
    assert (
        await client.get(f"{API}/stock/reservations/{live['id']}", headers=clerk_headers)
    ).json()["remaining"] == 3


async def test_a_count_above_what_is_reserved_touches_no_reservation(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    await _hold(client, clerk_headers, stocked, 3)
    body = (await post_count(client, clerk_headers, a, (product, 12))).json()
    assert body["reservations_shortened"] == []
    shown = await level(client, clerk_headers, product, a)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (12, 3, 9)


async def test_reservation_changes_are_in_the_feed(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    held = await _hold(client, clerk_headers, stocked, 5)
    url = f"{API}/stock/reservations/{held['id']}"
    await client.post(f"{url}/fulfil", json={"quantity": 2}, headers=clerk_headers)
    await client.post(f"{url}/release", headers=clerk_headers)
    created = await _events(connection, "reservation.created", held["id"])
    fulfilled = await _events(connection, "reservation.fulfilled", held["id"])
    released = await _events(connection, "reservation.released", held["id"])
    assert [(e["remaining"], e["status"]) for e in created] == [(5, "active")]
    assert [(e["remaining"], e["status"]) for e in fulfilled] == [(3, "active")]
    assert [(e["remaining"], e["status"]) for e in released] == [(3, "released")]


async def test_a_reservation_taking_available_below_the_reorder_point_is_announced(
    client: httpx.AsyncClient, clerk_headers: Headers, stocked: Stocked, connection: AsyncConnection
) -> None:
    product, a, _ = stocked  # reorder point 5, 10 on hand
    await _hold(client, clerk_headers, stocked, 5)  # available 5: not below
    await _hold(client, clerk_headers, stocked, 1)  # available 4: below
    rows = await connection.execute(
        text(
            "SELECT data FROM events"
            " WHERE type = 'level.below_reorder' AND data->>'product_id' = :p"
        ),
        {"p": product["id"]},
    )
    assert [row.data for row in rows] == [
        {
            "product_id": product["id"],
            "location_id": a["id"],
            "on_hand": 10,
            "available": 4,
            "reorder_point": 5,
        }
    ]
