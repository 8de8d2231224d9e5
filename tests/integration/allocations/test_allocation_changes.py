"""Fulfilling, releasing and extending allocations; picks refused to the reservation
endpoints; overdue allocations; counts that cut picks."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.allocations import (
    ALLOCATIONS,
    Warehouses,
    allocated,
    backdate,
    count_rows,
    events,
    want,
)
from tests.support.factories import Headers
from tests.support.stock import API, level, post_count, post_movement


async def test_fulfil_part_of_a_line_then_the_rest(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.p, 10), want(w.q, 5))
    first = made["lines"][0]
    url = f"{ALLOCATIONS}/{made['id']}/fulfil"
    part = await client.post(
        url, json={"lines": [{"line_id": first["id"], "quantity": 9}]}, headers=clerk_headers
    )
    assert part.status_code == 200, part.text
    body = part.json()
    assert body["allocation"]["status"] == "partially_fulfilled"
    assert [line["fulfilled"] for line in body["allocation"]["lines"]] == [9, 0]
    # From the picks in pick order: all 8 at w2, then 1 of the 2 at w1.
    assert [(m["location_id"], m["quantity"], m["kind"]) for m in body["movements"]] == [
        (w.w2["id"], -8, "issue"),
        (w.w1["id"], -1, "issue"),
    ]
    assert [m["reservation_id"] for m in body["movements"]] == [
        p["reservation_id"] for p in first["picks"]
    ]
    assert {m["reference"] for m in body["movements"]} == {"SO-1001"}
    shown = await level(client, clerk_headers, w.p, w.w2)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (0, 0, 0)
    shown = await level(client, clerk_headers, w.p, w.w1)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (4, 1, 3)
    pick = first["picks"][1]["reservation_id"]
    held = (await client.get(f"{API}/stock/reservations/{pick}", headers=clerk_headers)).json()
    assert (held["remaining"], held["status"]) == (1, "active")

    rest = await client.post(url, headers=clerk_headers)
    assert rest.status_code == 200, rest.text
    done = rest.json()["allocation"]
    assert done["status"] == "fulfilled"
    assert [line["fulfilled"] for line in done["lines"]] == [10, 5]
    assert [(m["location_id"], m["quantity"]) for m in rest.json()["movements"]] == [
        (w.w1["id"], -1),
        (w.w3["id"], -5),
    ]
    assert (await level(client, clerk_headers, w.q, w.w3))["on_hand"] == 1
    assert (
        await count_rows(
            connection,
            "SELECT count(*) FROM reservations WHERE allocation_id = :id AND status = 'fulfilled'",
            id=made["id"],
        )
        == 3
    )
    fulfilled = await events(connection, "allocation.fulfilled", made["id"])
    assert [e["status"] for e in fulfilled] == ["partially_fulfilled", "fulfilled"]
    assert fulfilled[-1] == done
    again = await client.post(url, headers=clerk_headers)
    assert again.status_code == 409
    assert "fulfilled" in again.json()["detail"]


async def test_fulfil_refuses_bad_lines_and_changes_nothing(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    viewer_headers: Headers,
    warehouses: Warehouses,
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.p, 4), want(w.q, 2))
    line = made["lines"][0]["id"]
    url = f"{ALLOCATIONS}/{made['id']}/fulfil"
    over = await client.post(
        url,
        json={"lines": [{"line_id": line, "quantity": 3}, {"line_id": line, "quantity": 2}]},
        headers=clerk_headers,
    )
    assert over.status_code == 422, over.text
    assert over.json()["errors"][0]["loc"] == ["body", "lines", 1, "quantity"]
    stranger = await client.post(
        url, json={"lines": [{"line_id": str(uuid.uuid4()), "quantity": 1}]}, headers=clerk_headers
    )
    assert stranger.status_code == 422
    assert stranger.json()["errors"][0]["loc"] == ["body", "lines", 0, "line_id"]
    zero = await client.post(
        url, json={"lines": [{"line_id": line, "quantity": 0}]}, headers=clerk_headers
    )
    assert zero.status_code == 422
    empty = await client.post(url, json={"lines": []}, headers=clerk_headers)
    assert empty.status_code == 422
    assert (await client.post(url, headers=viewer_headers)).status_code == 403
    assert (await client.post(url)).status_code == 401
    missing = await client.post(f"{ALLOCATIONS}/{uuid.uuid4()}/fulfil", headers=clerk_headers)
    assert missing.status_code == 404
    assert (await level(client, clerk_headers, w.p, w.w2))["on_hand"] == 8
    read = (await client.get(f"{ALLOCATIONS}/{made['id']}", headers=clerk_headers)).json()
    assert read == made


async def test_an_idempotency_key_replays_a_fulfilment(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.p, 4))
    headers = {**clerk_headers, "Idempotency-Key": f"fulfil-{uuid.uuid4()}"}
    url = f"{ALLOCATIONS}/{made['id']}/fulfil"
    body = {"lines": [{"line_id": made["lines"][0]["id"], "quantity": 1}]}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.text
    again = await client.post(url, json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    other = await client.post(url, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert (await level(client, clerk_headers, w.p, w.w2))["on_hand"] == 7


async def test_release_gives_everything_back(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.p, 10), want(w.q, 5))
    line = made["lines"][0]["id"]
    fulfil = await client.post(
        f"{ALLOCATIONS}/{made['id']}/fulfil",
        json={"lines": [{"line_id": line, "quantity": 3}]},
        headers=clerk_headers,
    )
    assert fulfil.status_code == 200
    url = f"{ALLOCATIONS}/{made['id']}/release"
    response = await client.post(url, headers=clerk_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "released"
    assert [line["fulfilled"] for line in body["lines"]] == [3, 0]
    for product, location, on_hand in ((w.p, w.w2, 5), (w.p, w.w1, 5), (w.q, w.w3, 6)):
        shown = await level(client, clerk_headers, product, location)
        assert (shown["on_hand"], shown["reserved"], shown["available"]) == (
            on_hand,
            0,
            on_hand,
        )
    assert await events(connection, "allocation.released", made["id"]) == [body]
    released = await count_rows(
        connection,
        "SELECT count(*) FROM events WHERE type = 'reservation.released'",
    )
    assert released == 3
    again = await client.post(url, headers=clerk_headers)
    assert again.status_code == 409
    assert "released" in again.json()["detail"]
    extend = await client.post(
        f"{ALLOCATIONS}/{made['id']}/extend", json={"expires_in": 600}, headers=clerk_headers
    )
    assert extend.status_code == 409
    assert (
        await client.post(f"{ALLOCATIONS}/{uuid.uuid4()}/release", headers=clerk_headers)
    ).status_code == 404


async def test_extend_moves_the_expiry_of_the_allocation_and_its_picks(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.p, 10), expires_in=60)
    url = f"{ALLOCATIONS}/{made['id']}/extend"
    response = await client.post(url, json={"expires_in": 7200}, headers=clerk_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    moved = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(made["expires_at"])
    assert 7100 < moved.total_seconds() < 7200
    for pick in body["lines"][0]["picks"]:
        held = await client.get(
            f"{API}/stock/reservations/{pick['reservation_id']}", headers=clerk_headers
        )
        assert held.json()["expires_at"] == body["expires_at"]
    for bad in ({"expires_in": 2592001}, {"expires_in": 59}, {}, {"expires_in": "600"}):
        refused = await client.post(url, json=bad, headers=clerk_headers)
        assert refused.status_code == 422, bad
    unknown = await client.post(
        f"{ALLOCATIONS}/{uuid.uuid4()}/extend", json={"expires_in": 600}, headers=clerk_headers
    )
    assert unknown.status_code == 404
    read = (await client.get(f"{ALLOCATIONS}/{made['id']}", headers=clerk_headers)).json()
    assert read["expires_at"] == body["expires_at"]


async def test_a_pick_moves_only_through_its_allocation(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.p, 3))
    pick = made["lines"][0]["picks"][0]["reservation_id"]
    for action in ("fulfil", "release"):
        response = await client.post(
            f"{API}/stock/reservations/{pick}/{action}", headers=clerk_headers
        )
        assert response.status_code == 409, response.text
        assert response.json()["detail"] == (
            f"This reservation is part of allocation {made['id']}: fulfil or release the allocation"
        )
    shown = await level(client, clerk_headers, w.p, w.w2)
    assert (shown["on_hand"], shown["reserved"]) == (8, 3)
    listed = await client.get(
        f"{API}/stock/reservations", params={"reference": "SO-1001"}, headers=clerk_headers
    )
    assert [r["id"] for r in listed.json()["items"]] == [pick]


async def test_an_overdue_allocation_is_expired_by_the_request_that_finds_it(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.p, 10), want(w.q, 2))
    await backdate(connection, made)
    url = f"{ALLOCATIONS}/{made['id']}"
    for action, body in (("fulfil", None), ("release", None), ("extend", {"expires_in": 600})):
        response = await client.post(f"{url}/{action}", json=body, headers=clerk_headers)
        assert response.status_code == 409, response.text
    read = (await client.get(url, headers=clerk_headers)).json()
    assert read["status"] == "expired"
    for product, location in ((w.p, w.w2), (w.p, w.w1), (w.q, w.w3)):
        assert (await level(client, clerk_headers, product, location))["reserved"] == 0
    assert await events(connection, "allocation.expired", made["id"]) == [read]
    assert (
        await count_rows(
            connection, "SELECT count(*) FROM events WHERE type = 'reservation.expired'"
        )
        == 3
    )


async def test_a_write_short_of_stock_expires_an_overdue_allocation(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.q, 10))
    await backdate(connection, made)
    # Another allocation needs what the overdue one holds: it frees the picks first.
    second = await allocated(client, clerk_headers, want(w.q, 10), reference="SO-2")
    assert [p["quantity"] for p in second["lines"][0]["picks"]] == [6, 4]
    first = (await client.get(f"{ALLOCATIONS}/{made['id']}", headers=clerk_headers)).json()
    assert first["status"] == "expired"
    assert len(await events(connection, "allocation.expired", made["id"])) == 1


async def test_a_count_that_cuts_a_pick_keeps_the_allocation_true(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.q, 6, w.w3))
    pick = made["lines"][0]["picks"][0]["reservation_id"]
    cut = await post_count(client, clerk_headers, w.w3, (w.q, 4))
    assert cut.status_code == 201, cut.text
    held = (await client.get(f"{API}/stock/reservations/{pick}", headers=clerk_headers)).json()
    assert (held["remaining"], held["status"]) == (4, "active")
    assert (await client.get(f"{ALLOCATIONS}/{made['id']}", headers=clerk_headers)).json()[
        "status"
    ] == "active"
    # All 4 left can still be fulfilled: the line stays short of its quantity, and the
    # allocation ends `fulfilled` (it issued all it held), announced once as such.
    done = await client.post(f"{ALLOCATIONS}/{made['id']}/fulfil", headers=clerk_headers)
    assert done.status_code == 200, done.text
    assert done.json()["allocation"]["lines"][0]["fulfilled"] == 4
    assert done.json()["allocation"]["status"] == "fulfilled"
    assert await events(connection, "allocation.fulfilled", made["id"]) == [
        done.json()["allocation"]
    ]
    assert await events(connection, "allocation.released", made["id"]) == []

    other = await allocated(client, clerk_headers, want(w.p, 3, w.w3), reference="SO-3")
    gone = await post_count(client, clerk_headers, w.w3, (w.p, 0))
    assert gone.status_code == 201, gone.text
    read = (await client.get(f"{ALLOCATIONS}/{other['id']}", headers=clerk_headers)).json()
    assert read["status"] == "released"
    assert await events(connection, "allocation.released", other["id"]) == [read]
    assert (await level(client, clerk_headers, w.p, w.w3))["reserved"] == 0


async def test_postings_that_free_overdue_picks_level_by_level_expire_it_once(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    made = await allocated(client, clerk_headers, want(w.p, 10))
    assert [p["quantity"] for p in made["lines"][0]["picks"]] == [8, 2]
    await backdate(connection, made)
    url = f"{ALLOCATIONS}/{made['id']}"
    # Short at w2: its pick is freed; the one at w1 is not yet, so the allocation stays.
    first = await post_movement(client, clerk_headers, w.p, w.w2, "issue", 1)
    assert first.status_code == 201, first.text
    assert (await client.get(url, headers=clerk_headers)).json()["status"] == "active"
    assert await events(connection, "allocation.expired", made["id"]) == []
    second = await post_movement(client, clerk_headers, w.p, w.w1, "issue", 4)
    assert second.status_code == 201, second.text
    read = (await client.get(url, headers=clerk_headers)).json()
    assert read["status"] == "expired"
    assert await events(connection, "allocation.expired", made["id"]) == [read]
    assert (await level(client, clerk_headers, w.p, w.w1))["reserved"] == 0
