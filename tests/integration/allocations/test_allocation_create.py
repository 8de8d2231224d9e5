"""Creating allocations: where each line is taken from, all or nothing, and what it holds."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.allocations import (
    ALLOCATIONS,
    Warehouses,
    allocate,
    allocated,
    count_rows,
    events,
    picks,
    want,
)
from tests.support.factories import Headers
from tests.support.stock import API, level


async def test_an_allocation_takes_from_the_most_available_first_and_holds_it(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    response = await allocate(client, clerk_headers, want(w.p, 10), want(w.q, 5))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{ALLOCATIONS}/{body['id']}"
    assert (body["reference"], body["status"]) == ("SO-1001", "active")
    # p: w2 (8) then w1 (5 > w3's 3); q: w3 (6) before w1 (4).
    assert picks(body, w) == [[("w2", 8), ("w1", 2)], [("w3", 5)]]
    assert [line["fulfilled"] for line in body["lines"]] == [0, 0]
    shown = await level(client, clerk_headers, w.p, w.w2)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (8, 8, 0)
    assert (await level(client, clerk_headers, w.p, w.w1))["reserved"] == 2
    assert (await level(client, clerk_headers, w.q, w.w3))["reserved"] == 5
    # Each pick is a reservation, expiring with the allocation.
    pick = body["lines"][0]["picks"][0]
    held = await client.get(
        f"{API}/stock/reservations/{pick['reservation_id']}", headers=clerk_headers
    )
    assert held.status_code == 200
    assert (held.json()["quantity"], held.json()["remaining"], held.json()["status"]) == (
        8,
        8,
        "active",
    )
    assert held.json()["expires_at"] == body["expires_at"]
    assert held.json()["reference"] == "SO-1001"
    assert held.json()["allocation_id"] == body["id"]
    read = await client.get(f"{ALLOCATIONS}/{body['id']}", headers=clerk_headers)
    assert read.json() == body
    created = await events(connection, "allocation.created", body["id"])
    assert created == [body]
    assert len(await events(connection, "reservation.created", pick["reservation_id"])) == 1


async def test_preferred_locations_come_first_in_their_order(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    body = await allocated(
        client, clerk_headers, want(w.p, 10), locations=[w.w3["id"], w.w1["id"], w.w3["id"]]
    )
    assert picks(body, w) == [[("w3", 3), ("w1", 5), ("w2", 2)]]


async def test_a_pinned_line_comes_from_its_location_only(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    body = await allocated(
        client, clerk_headers, want(w.p, 3, w.w3), want(w.p, 2), locations=[w.w3["id"]]
    )
    # The second line prefers w3 too, but the first took it all: then most available.
    assert picks(body, w) == [[("w3", 3)], [("w2", 2)]]
    short = await allocate(client, clerk_headers, want(w.q, 1, w.w2))
    assert short.status_code == 409
    assert short.json()["shortages"] == [{"product_id": w.q["id"], "requested": 1, "available": 0}]


async def test_without_split_a_line_comes_whole_from_one_location(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    body = await allocated(
        client, clerk_headers, want(w.p, 6), want(w.q, 4), split=False, locations=[w.w1["id"]]
    )
    # w1 (preferred) has only 5 of p: the next that covers 6 is w2; q fits at w1.
    assert picks(body, w) == [[("w2", 6)], [("w1", 4)]]
    # q: 6 left at w3, none at w1 now; 7 in one piece fits nowhere.
    refused = await allocate(client, clerk_headers, want(w.q, 7), split=False)
    assert refused.status_code == 409
    assert refused.json()["shortages"] == [
        {"product_id": w.q["id"], "requested": 7, "available": 6}
    ]


async def test_split_false_refuses_a_line_no_single_location_covers(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    response = await allocate(client, clerk_headers, want(w.p, 9), split=False)
    assert response.status_code == 409, response.text
    assert response.json()["shortages"] == [
        {"product_id": w.p["id"], "requested": 9, "available": 8}
    ]
    assert (await level(client, clerk_headers, w.p, w.w2))["reserved"] == 0
    # With split (the default) the same line is held across locations.
    assert (await allocate(client, clerk_headers, want(w.p, 9))).status_code == 201


async def test_single_location_takes_the_whole_order_from_one_place(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    # w1 and w3 both cover 3 p + 4 q; w1 wins the tie by code.
    body = await allocated(client, clerk_headers, want(w.p, 3), want(w.q, 4), single_location=True)
    assert picks(body, w) == [[("w1", 3)], [("w1", 4)]]
    preferred = await allocated(
        client,
        clerk_headers,
        want(w.p, 2),
        want(w.q, 2),
        single_location=True,
        locations=[w.w2["id"], w.w3["id"]],
    )
    # w2 is preferred but holds no q: the next preferred, w3, covers both.
    assert picks(preferred, w) == [[("w3", 2)], [("w3", 2)]]


async def test_single_location_refuses_an_order_no_location_covers(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    response = await allocate(
        client, clerk_headers, want(w.p, 6), want(w.q, 4), single_location=True
    )
    assert response.status_code == 409, response.text
    # The location covering the most (w1: 5 p + 4 q) is the one the shortages describe.
    assert response.json()["type"] == "/problems/insufficient-stock"
    assert response.json()["shortages"] == [
        {"product_id": w.p["id"], "requested": 6, "available": 5}
    ]
    two_pins = await allocate(
        client, clerk_headers, want(w.p, 1, w.w1), want(w.q, 1, w.w3), single_location=True
    )
    assert two_pins.status_code == 409
    assert "single location" in two_pins.json()["detail"]
    assert await count_rows(connection, "SELECT count(*) FROM allocations") == 0


async def test_all_or_nothing_one_short_line_holds_nothing(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    before = await count_rows(connection, "SELECT count(*) FROM events")
    response = await allocate(client, clerk_headers, want(w.p, 10), want(w.q, 6), want(w.q, 5))
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["type"] == "/problems/insufficient-stock"
    assert "available" not in problem
    assert problem["shortages"] == [{"product_id": w.q["id"], "requested": 11, "available": 10}]
    for product, location in ((w.p, w.w1), (w.p, w.w2), (w.q, w.w1), (w.q, w.w3)):
        assert (await level(client, clerk_headers, product, location))["reserved"] == 0
    assert await count_rows(connection, "SELECT count(*) FROM allocations") == 0
    assert await count_rows(connection, "SELECT count(*) FROM allocation_lines") == 0
    assert await count_rows(connection, "SELECT count(*) FROM reservations") == 0
    assert await count_rows(connection, "SELECT count(*) FROM events") == before


async def test_the_same_product_on_several_lines_adds_up_in_line_order(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    w = warehouses
    body = await allocated(client, clerk_headers, want(w.p, 7), want(w.p, 7))
    # After the first line, w2 has 1 left: w1 (5) then w3 (3) come first.
    assert picks(body, w) == [[("w2", 7)], [("w1", 5), ("w3", 2)]]
    shown = await level(client, clerk_headers, w.p, w.w2)
    assert (shown["reserved"], shown["available"]) == (7, 1)


async def test_the_worked_example_of_the_api_description(
    client: httpx.AsyncClient, clerk_headers: Headers, warehouses: Warehouses
) -> None:
    """docs/API.md "Allocations": each rule on the same three warehouses."""
    w = warehouses

    async def held(*lines: dict[str, object], **fields: object) -> list[list[tuple[str, int]]]:
        body = await allocated(client, clerk_headers, *lines, **fields)
        gone = await client.post(f"{ALLOCATIONS}/{body['id']}/release", headers=clerk_headers)
        assert gone.status_code == 200, gone.text
        return picks(body, w)

    order = (want(w.p, 10), want(w.q, 5), want(w.p, 2))
    assert await held(*order) == [[("w2", 8), ("w1", 2)], [("w3", 5)], [("w1", 2)]]
    assert await held(*order, locations=[w.w3["id"], w.w1["id"]]) == [
        [("w3", 3), ("w1", 5), ("w2", 2)],
        [("w3", 5)],
        [("w2", 2)],
    ]
    whole = await allocate(client, clerk_headers, *order, split=False)
    assert whole.status_code == 409
    assert whole.json()["shortages"] == [
        {"product_id": w.p["id"], "requested": 12, "available": 10}
    ]
    smaller = (want(w.p, 6), want(w.q, 5), want(w.p, 2))
    assert await held(*smaller, split=False) == [[("w2", 6)], [("w3", 5)], [("w1", 2)]]
    assert await held(want(w.p, 3), want(w.q, 4), single_location=True) == [
        [("w1", 3)],
        [("w1", 4)],
    ]


async def test_an_allocation_that_takes_a_level_below_its_reorder_point_says_so(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    warehouses: Warehouses,
    connection: AsyncConnection,
) -> None:
    w = warehouses
    changed = await client.patch(
        f"{API}/products/{w.q['id']}",
        json={"reorder_point": 3},
        headers={**manager_headers, "If-Match": "*"},
    )
    assert changed.status_code == 200, changed.text
    await allocated(client, clerk_headers, want(w.q, 4, w.w3))
    rows = await connection.execute(
        text("SELECT data FROM events WHERE type = 'level.below_reorder' ORDER BY seq")
    )
    assert [(r.data["location_id"], r.data["on_hand"], r.data["available"]) for r in rows] == [
        (w.w3["id"], 6, 2)
    ]
