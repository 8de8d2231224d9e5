"""A posting of many lines sends the same SQL whatever its line count (issue #23): every
multi-row statement of a count, a shipment, a receipt, a cancellation and a batch passes its
rows as arrays (`unnest`), so its text never changes with the row count. A new line count then
prepares nothing: a statement whose text depended on the count would be prepared again for
every new count (asyncpg sends Parse, Describe and Flush and waits for the answer: a round trip
the proxy's ReadyForQuery count does not show, so the prepares are counted on their own) and
fill the connection's statement cache with one-off statements.

Each request runs warm on a line count (2) and is then counted at two counts it has never
seen (3 and 40): the statements must be the same, trip for trip, with nothing prepared."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.support.round_trips import (
    ALLOCATE_TRIPS,
    CANCEL_TRIPS,
    COUNT_TRIPS,
    RECEIPT_TRIPS,
    SHIP_TRIPS,
    Counted,
    allocation_body,
    count_body,
    levels_at,
    new_products,
    receipt_body,
    shipment_body,
    stocked_products,
)
from tests.support.stock import API, Item, new_location

SIZES = (3, 40)  # line counts never posted before the count
WARM = 2  # the line count every request is warmed on
SHIPMENTS = f"{API}/stock/shipments"
# A batch on one level: BEGIN, the check, the product and the location (FOR SHARE), the level's
# lock and its change, the ledger rows (one INSERT), the events, COMMIT.
BATCH_TRIPS = 9


def _statements(trips: list[str]) -> list[str]:
    """The trips' SQL, in order; the (few) statements prepared among them start `prepare `."""
    return [sql for trip in trips for sql in trip.split(" | ")]


def _prepared(trips: list[str]) -> list[str]:
    return [sql for sql in _statements(trips) if sql.startswith("prepare ")]


async def _same_sql(
    run: Callable[[int], Awaitable[tuple[httpx.Response, list[str]]]], trips: int
) -> dict[int, httpx.Response]:
    """`run` at every size: the responses; the same SQL each time, nothing prepared, `trips`
    round trips."""
    made, responses = {}, {}
    for size in SIZES:
        responses[size], made[size] = await run(size)
        assert responses[size].status_code in (200, 201), responses[size].text
        assert _prepared(made[size]) == [], (size, _prepared(made[size]))
        assert len(made[size]) == trips, made[size]
    small, large = (_statements(made[size]) for size in SIZES)
    assert small == large, (small, large)
    return responses


async def test_a_count_sends_the_same_sql_for_any_number_of_lines(
    counted: Counted,
) -> None:
    url = f"{API}/stock/counts"
    warm = await new_products(counted, WARM)
    for quantity in (4, 6):
        response = await counted.client.post(
            url, json=count_body(counted, warm, quantity), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
    lines = {size: await new_products(counted, size) for size in SIZES}

    async def run(size: int) -> tuple[httpx.Response, list[str]]:
        return await counted.trips("POST", url, json=count_body(counted, lines[size], 7))

    done = await _same_sql(run, COUNT_TRIPS)
    # Every line adjusted, in line order, each with its balance; the levels as counted.
    for size in SIZES:
        movements = done[size].json()["movements"]
        assert [m["product_id"] for m in movements] == [p["id"] for p in lines[size]]
        assert {(m["quantity"], m["balance_after"], m["reason"]) for m in movements} == {
            (7, 7, "count")
        }
    levels = await levels_at(counted, counted.location)
    assert all(levels[p["id"]] == (7, 0) for size in SIZES for p in lines[size])


async def test_an_allocation_sends_the_same_sql_for_any_number_of_lines(
    counted: Counted,
) -> None:
    url = f"{API}/stock/allocations"
    warm = await stocked_products(counted, WARM)
    for _ in range(2):
        response = await counted.client.post(url, json=allocation_body(warm), headers=counted.clerk)
        assert response.status_code == 201, response.text
    lines = {size: await stocked_products(counted, size) for size in SIZES}

    async def run(size: int) -> tuple[httpx.Response, list[str]]:
        return await counted.trips("POST", url, json=allocation_body(lines[size]))

    done = await _same_sql(run, ALLOCATE_TRIPS)
    for size in SIZES:
        held = done[size].json()["lines"]
        assert [line["product_id"] for line in held] == [p["id"] for p in lines[size]]
        assert {(len(line["picks"]), line["picks"][0]["quantity"]) for line in held} == {(1, 3)}


async def _reserve(on: Counted, products: list[Item], quantity: int) -> None:
    for product in products:
        response = await on.client.post(
            f"{API}/stock/reservations",
            json={
                "product_id": product["id"],
                "location_id": on.location["id"],
                "quantity": quantity,
            },
            headers=on.clerk,
        )
        assert response.status_code == 201, response.text


@pytest.mark.slow
async def test_a_count_shrinking_reservations_sends_the_same_sql_for_any_number_of_lines(
    counted: Counted,
) -> None:
    url = f"{API}/stock/counts"
    warm = await stocked_products(counted, WARM)  # 20 on hand each
    await _reserve(counted, warm, 12)
    for quantity in (10, 8):
        response = await counted.client.post(
            url, json=count_body(counted, warm, quantity), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
    lines = {size: await stocked_products(counted, size) for size in SIZES}
    for size in SIZES:
        await _reserve(counted, lines[size], 12)

    async def run(size: int) -> tuple[httpx.Response, list[str]]:
        return await counted.trips("POST", url, json=count_body(counted, lines[size], 5))

    # And the overdue reservations freed (none), the holding ones read, and shortened.
    done = await _same_sql(run, COUNT_TRIPS + 3)
    for size in SIZES:
        shortened = done[size].json()["reservations_shortened"]
        assert [(r["product_id"], r["remaining"]) for r in shortened] == [
            (p["id"], 5) for p in lines[size]
        ]
        assert {r["status"] for r in shortened} == {"active"}
    reserved = await counted.client.get(
        f"{API}/stock/levels",
        params={"location_id": counted.location["id"], "limit": 100},
        headers=counted.clerk,
    )
    figures = {i["product_id"]: (i["on_hand"], i["reserved"]) for i in reserved.json()["items"]}
    assert all(figures[p["id"]] == (5, 5) for size in SIZES for p in lines[size])


@pytest.mark.slow
async def test_shipments_receipts_and_cancellations_send_the_same_sql_for_any_number_of_lines(
    counted: Counted,
) -> None:
    to = await new_location(counted.client, counted.manager)
    warm = await stocked_products(counted, WARM)
    warmed = []
    for _ in range(4):
        response = await counted.client.post(
            SHIPMENTS, json=shipment_body(counted, to, warm), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
        warmed.append(response.json()["id"])
    for shipment_id in warmed[:2]:
        receipt = await counted.client.post(
            f"{SHIPMENTS}/{shipment_id}/receipts", json=receipt_body(warm), headers=counted.clerk
        )
        assert receipt.status_code == 201, receipt.text
    for shipment_id in warmed[2:]:
        back = await counted.client.post(f"{SHIPMENTS}/{shipment_id}/cancel", headers=counted.clerk)
        assert back.status_code == 200, back.text
    stocked = {size: await stocked_products(counted, size) for size in SIZES}

    async def ship(size: int) -> tuple[httpx.Response, list[str]]:
        return await counted.trips(
            "POST", SHIPMENTS, json=shipment_body(counted, to, stocked[size])
        )

    shipped = await _same_sql(ship, SHIP_TRIPS)
    for size in SIZES:
        assert [line["product_id"] for line in shipped[size].json()["lines"]] == [
            p["id"] for p in stocked[size]
        ]

    async def receive(size: int) -> tuple[httpx.Response, list[str]]:
        receipts = f"{SHIPMENTS}/{shipped[size].json()['id']}/receipts"
        return await counted.trips("POST", receipts, json=receipt_body(stocked[size]))

    received = await _same_sql(receive, RECEIPT_TRIPS)
    assert {r.json()["status"] for r in received.values()} == {"completed"}
    again: dict[int, str] = {}
    for size in SIZES:
        response = await counted.client.post(
            SHIPMENTS, json=shipment_body(counted, to, stocked[size]), headers=counted.clerk
        )
        assert response.status_code == 201, response.text
        again[size] = response.json()["id"]

    async def cancel(size: int) -> tuple[httpx.Response, list[str]]:
        return await counted.trips("POST", f"{SHIPMENTS}/{again[size]}/cancel")

    canceled = await _same_sql(cancel, CANCEL_TRIPS)
    assert {r.json()["status"] for r in canceled.values()} == {"canceled"}
    # 20, less 4 shipped and received (3, and 1 written off), less 4 shipped and called back.
    at_source, at_destination = (
        await levels_at(counted, counted.location),
        await levels_at(counted, to),
    )
    for size in SIZES:
        assert all(at_source[p["id"]] == (16, 0) for p in stocked[size])
        assert all(at_destination[p["id"]] == (3, 0) for p in stocked[size])


async def test_a_batch_sends_the_same_sql_for_any_number_of_lines(
    counted: Counted,
) -> None:
    url = f"{API}/stock/batches"
    product, location = counted.product, counted.location

    def batch(lines: int) -> dict[str, Any]:
        one = {"product_id": product["id"], "location_id": location["id"], "kind": "receipt"}
        return {"movements": [{**one, "quantity": 1} for _ in range(lines)]}

    for _ in range(2):
        response = await counted.client.post(url, json=batch(WARM), headers=counted.clerk)
        assert response.status_code == 201, response.text
    made = {}
    balances: dict[int, list[int]] = {}
    for size in SIZES:
        response, made[size] = await counted.trips("POST", url, json=batch(size))
        assert response.status_code == 201, response.text
        assert _prepared(made[size]) == [], (size, _prepared(made[size]))
        assert len(made[size]) == BATCH_TRIPS, made[size]
        balances[size] = [m["balance_after"] for m in response.json()["movements"]]
    assert _statements(made[SIZES[0]]) == _statements(made[SIZES[1]])
    # One ledger row per line, in line order: 3 (the fixture) + 2 x 2 warm, then each line.
    assert balances[SIZES[0]] == [8, 9, 10]
    assert balances[SIZES[1]] == list(range(11, 11 + SIZES[1]))


async def _ledger(on: Counted, **params: Any) -> list[Item]:
    """Ledger rows matching `params`, newest first (one page)."""
    page = await on.client.get(
        f"{API}/stock/movements", params={**params, "limit": 100}, headers=on.clerk
    )
    assert page.status_code == 200, page.text
    rows: list[Item] = page.json()["items"]
    return rows


async def test_a_batch_is_in_the_ledger_in_line_order(
    counted: Counted,
) -> None:
    """The rows of one INSERT from arrays: `created_at` (the clock at each row) follows the
    lines, so the ledger, newest first, is the batch backwards."""
    products = await new_products(counted, 40)
    lines = [
        {
            "product_id": p["id"],
            "location_id": counted.location["id"],
            "kind": "receipt",
            "quantity": i + 1,
            "note": None if i % 2 else f"line {i}",
        }
        for i, p in enumerate(products)
    ]
    response = await counted.client.post(
        f"{API}/stock/batches", json={"movements": lines}, headers=counted.clerk
    )
    assert response.status_code == 201, response.text
    posted = response.json()["movements"]
    assert [(m["quantity"], m["note"]) for m in posted] == [
        (i + 1, line["note"]) for i, line in enumerate(lines)
    ]
    ledger = await _ledger(counted, batch_id=response.json()["batch_id"])
    assert [m["id"] for m in ledger] == [m["id"] for m in reversed(posted)]
    assert [m["created_at"] for m in ledger] == [m["created_at"] for m in reversed(posted)]
    assert len({m["created_at"] for m in ledger}) == 40


async def test_a_failing_batch_sends_the_same_sql_and_writes_nothing(
    counted: Counted,
) -> None:
    """The last line takes more than is on hand: a 409 naming it, at any line count, with the
    same statements and nothing prepared; no ledger row, the level unchanged."""
    url = f"{API}/stock/batches"
    product, location = counted.product, counted.location
    one = {"product_id": product["id"], "location_id": location["id"]}

    def batch(lines: int) -> dict[str, Any]:
        receipts = [{**one, "kind": "receipt", "quantity": 1} for _ in range(lines - 1)]
        return {"movements": [*receipts, {**one, "kind": "issue", "quantity": 1_000_000}]}

    for _ in range(2):
        response = await counted.client.post(url, json=batch(WARM), headers=counted.clerk)
        assert response.status_code == 409, response.text
    before = await _ledger(counted, product_id=product["id"])

    async def run(size: int) -> tuple[httpx.Response, list[str]]:
        return await counted.trips("POST", url, json=batch(size))

    made = {}
    for size in SIZES:
        response, made[size] = await run(size)
        assert response.status_code == 409, response.text
        assert (response.json()["line"], response.json()["available"]) == (size - 1, 3 + size - 1)
        assert _prepared(made[size]) == [], made[size]
    assert _statements(made[SIZES[0]]) == _statements(made[SIZES[1]])
    assert await _ledger(counted, product_id=product["id"]) == before
    levels = await levels_at(counted, location)
    assert levels[product["id"]] == (3, 0)


async def test_a_count_naming_an_unknown_product_sends_the_same_sql_and_writes_nothing(
    counted: Counted,
) -> None:
    url = f"{API}/stock/counts"
    unknown = {"id": "01900000-0000-7000-8000-000000000000"}
    warm = await new_products(counted, WARM - 1)
    for _ in range(2):
        response = await counted.client.post(
            url, json=count_body(counted, [*warm, unknown], 4), headers=counted.clerk
        )
        assert response.status_code == 404, response.text
    lines = {size: await new_products(counted, size - 1) for size in SIZES}
    made = {}
    for size in SIZES:
        response, made[size] = await counted.trips(
            "POST", url, json=count_body(counted, [*lines[size], unknown], 4)
        )
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/problems/not-found")
        assert _prepared(made[size]) == [], made[size]
    assert _statements(made[SIZES[0]]) == _statements(made[SIZES[1]])
    levels = await levels_at(counted, counted.location)
    assert not any(p["id"] in levels for size in SIZES for p in lines[size])
    assert await _ledger(counted, product_id=lines[SIZES[1]][0]["id"]) == []


@pytest.mark.slow
async def test_a_shipment_short_on_its_last_line_sends_the_same_sql_and_writes_nothing(
    counted: Counted,
) -> None:
    to = await new_location(counted.client, counted.manager)

    def short(products: list[Item]) -> dict[str, Any]:
        body = shipment_body(counted, to, products)
        body["lines"][-1]["quantity"] = 21  # 20 on hand
        return body

    warm = await stocked_products(counted, WARM)
    for _ in range(2):
        response = await counted.client.post(SHIPMENTS, json=short(warm), headers=counted.clerk)
        assert response.status_code == 409, response.text
    stocked = {size: await stocked_products(counted, size) for size in SIZES}
    made = {}
    for size in SIZES:
        response, made[size] = await counted.trips("POST", SHIPMENTS, json=short(stocked[size]))
        assert response.status_code == 409, response.text
        assert (response.json()["line"], response.json()["available"]) == (size - 1, 20)
        assert _prepared(made[size]) == [], made[size]
    assert _statements(made[SIZES[0]]) == _statements(made[SIZES[1]])
    listed = await counted.client.get(SHIPMENTS, params={"limit": 100}, headers=counted.clerk)
    assert listed.json()["items"] == []
    at_source, at_destination = (
        await levels_at(counted, counted.location),
        await levels_at(counted, to),
    )
    assert all(at_source[p["id"]] == (20, 0) for size in SIZES for p in stocked[size])
    assert not any(p["id"] in at_destination for size in SIZES for p in stocked[size])
