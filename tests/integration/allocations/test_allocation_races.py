"""Orders racing for the same stock, on committed transactions (issue #26, item 3).

Every request runs in its own transaction on its own pooled connection, so the database
decides. An order locks its levels in one global order, (product, location), whatever the
order of its lines: competing orders queue instead of deadlocking (a deadlock would be a
500 here). Afterwards the database must show nothing oversold, `reserved` equal to what
active reservations hold, no stock held for an order that was refused, each allocation's
picks adding up to its lines, and a clean reconciliation. The property test beside this one
(test_allocation_race_properties.py) races random carts step by step.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from src.main import create_app
from src.models.user import Role
from tests.support.allocation_db import backdate, count_events, until_lock_waits
from tests.support.allocation_races import (
    Cart,
    Line,
    Staff,
    allocate,
    check_allocations,
    check_order_answer,
    check_refusals_were_due,
    check_refused,
    check_stock,
    new_reference,
    picks_of,
    read_stock,
    stock_floor,
)
from tests.support.factories import committed_headers
from tests.support.servers import in_process
from tests.support.settings import make_settings
from tests.support.sse import holds, install_hold_trigger
from tests.support.stock import API, assert_reconciled, post_count

# Five hot products over three locations, each product stocked at two or three of them.
HOT_STOCK = [[6, 4, 0], [3, 3, 3], [0, 8, 2], [5, 0, 5], [4, 4, 4]]


async def test_fifty_orders_on_five_hot_products_get_exactly_what_the_stock_allows(
    committed_client: httpx.AsyncClient, committed_engine: AsyncEngine, staff: Staff
) -> None:
    clerk, _, admin = staff
    floor = await stock_floor(committed_client, staff, HOT_STOCK, 3)
    rng = random.Random(26)
    # Three lines each, products drawn in any order (a repeat adds up): two orders naming
    # the same products in opposite orders must still queue on the levels, not deadlock.
    carts = [
        Cart(tuple(Line(rng.randrange(5), rng.randint(1, 3)) for _ in range(3))) for _ in range(50)
    ]
    references = [new_reference() for _ in carts]
    responses = await asyncio.gather(
        *(
            allocate(committed_client, clerk, floor, cart, ref)
            for cart, ref in zip(carts, references, strict=True)
        )
    )
    for response, cart in zip(responses, carts, strict=True):
        check_order_answer(response, floor, cart)
    won = [i for i, r in enumerate(responses) if r.status_code == 201]
    lost = [i for i, r in enumerate(responses) if r.status_code == 409]
    assert won, Counter(r.status_code for r in responses)
    assert lost, Counter(r.status_code for r in responses)

    stock = await read_stock(committed_engine, floor)
    check_stock(stock, {pick for i in won for pick in picks_of(responses[i].json())})
    # Orders only hold: on hand untouched, and what is held is exactly the winners' demand.
    on_hand = {level: figures[0] for level, figures in stock.levels.items()}
    assert sum(on_hand.values()) == sum(map(sum, HOT_STOCK))
    demanded: Counter[int] = Counter()
    for i in won:
        demanded.update(carts[i].demand())
    assert stock.reserved(floor) == demanded
    # Every refusal was due: nothing was ever given back, so what is left now is at most
    # what was left when it was refused, and it still does not cover the order.
    check_refusals_were_due([carts[i] for i in lost], stock.available(floor), Counter())
    await check_allocations(committed_engine, [responses[i].json()["id"] for i in won])
    await check_refused(committed_engine, [references[i] for i in lost])
    won_ids = [responses[i].json()["id"] for i in won]
    assert await count_events(committed_engine, "allocation.created", "id", won_ids) == len(won)
    lost_refs = [references[i] for i in lost]
    assert await count_events(committed_engine, "allocation.created", "reference", lost_refs) == 0
    await assert_reconciled(committed_client, admin)


async def test_orders_naming_products_in_opposite_orders_all_succeed_with_ample_stock(
    committed_client: httpx.AsyncClient, committed_engine: AsyncEngine, staff: Staff
) -> None:
    """Forty orders, half naming four products forwards and half backwards, split over two
    locations each: with exactly the stock for all of them, every one is served and every
    unit ends up held (a deadlock between two of them would be an error, a lock timeout a
    refusal)."""
    clerk, _, admin = staff
    floor = await stock_floor(committed_client, staff, [[60, 60]] * 4, 2)
    forwards = Cart(tuple(Line(p, 3) for p in range(4)))
    backwards = Cart(tuple(reversed(forwards.lines)))
    carts = [forwards if i % 2 else backwards for i in range(40)]
    responses = await asyncio.gather(
        *(allocate(committed_client, clerk, floor, cart, new_reference()) for cart in carts)
    )
    for response, cart in zip(responses, carts, strict=True):
        check_order_answer(response, floor, cart)
    assert Counter(r.status_code for r in responses) == {201: 40}
    stock = await read_stock(committed_engine, floor)
    check_stock(stock, {pick for r in responses for pick in picks_of(r.json())})
    assert stock.reserved(floor) == Counter(dict.fromkeys(range(4), 120))
    await check_allocations(committed_engine, [r.json()["id"] for r in responses])
    await assert_reconciled(committed_client, admin)


@pytest.mark.slow
async def test_expiring_orders_free_their_stock_once_while_new_orders_race_for_it(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    staff: Staff,
    tmp_path: Path,
) -> None:
    """Three orders hold every unit of six levels, then fall due. Thirty-two one-unit
    orders, eight pinned to each of four of those levels, race each other and two
    processes' sweepers (every 50 ms, one level per transaction; they alone free the other
    two levels): each level frees its picks once, so six orders win per level, and each old
    order ends expired with one `allocation.expired` event, however many transactions
    expired its picks on different levels at once."""
    clerk, _, admin = staff
    settings = make_settings(
        committed_database_url,
        tmp_path,
        reservation_sweep_seconds=0.05,
        reservation_sweep_batch=1,
    )
    async with in_process(create_app(settings)) as client, in_process(create_app(settings)):
        # The third product's levels no new order touches: only the sweepers free them.
        floor = await stock_floor(client, staff, [[6, 6], [6, 6], [3, 3]], 2)
        quantities = (2, 2, 1)
        everywhere = Cart(tuple(Line(p, quantities[p], loc) for p in range(3) for loc in range(2)))
        old = [await allocate(client, clerk, floor, everywhere, new_reference()) for _ in range(3)]
        assert [r.status_code for r in old] == [201] * 3, [r.text for r in old]
        old_ids = [r.json()["id"] for r in old]
        await backdate(committed_engine, old_ids)
        carts = [Cart((Line(p, 1, loc),)) for p in range(2) for loc in range(2)] * 8
        responses = await asyncio.gather(
            *(allocate(client, clerk, floor, cart, new_reference()) for cart in carts)
        )
        for response, cart in zip(responses, carts, strict=True):
            check_order_answer(response, floor, cart)
        assert Counter(r.status_code for r in responses) == {201: 24, 409: 8}
        deadline = time.monotonic() + 10
        for allocation_id in old_ids:
            url = f"{API}/stock/allocations/{allocation_id}"
            while (await client.get(url, headers=clerk)).json()["status"] != "expired":
                assert time.monotonic() < deadline, f"allocation {allocation_id} never expired"
                await asyncio.sleep(0.05)
        stock = await read_stock(committed_engine, floor)
        check_stock(
            stock, {pick for r in responses if r.status_code == 201 for pick in picks_of(r.json())}
        )
        assert stock.reserved(floor) == {0: 12, 1: 12, 2: 0}
        await check_allocations(
            committed_engine, old_ids + [r.json()["id"] for r in responses if r.status_code == 201]
        )
        assert await count_events(committed_engine, "allocation.expired", "id", old_ids) == 3
        await assert_reconciled(client, admin)


async def test_fulfil_racing_release_of_one_order_one_wins(
    committed_client: httpx.AsyncClient, committed_engine: AsyncEngine, staff: Staff
) -> None:
    """Fulfil and release of the same order at once: one of them happens, whole, and the
    other finds it ended (409); the picks, the levels and the ledger agree either way."""
    clerk, _, admin = staff
    floor = await stock_floor(committed_client, staff, [[20, 20], [20, 20]], 2)
    order = Cart((Line(0, 3), Line(1, 2, 1), Line(0, 1, 0)))
    orders = []
    for _ in range(5):
        created = await allocate(committed_client, clerk, floor, order, new_reference())
        assert created.status_code == 201, created.text
        url = f"{API}/stock/allocations/{created.json()['id']}"
        fulfil, release = await asyncio.gather(
            committed_client.post(f"{url}/fulfil", json={}, headers=clerk),
            committed_client.post(f"{url}/release", headers=clerk),
        )
        assert sorted([fulfil.status_code, release.status_code]) == [200, 409], (
            fulfil.text,
            release.text,
        )
        final = (await committed_client.get(url, headers=clerk)).json()
        assert final["status"] == ("fulfilled" if fulfil.status_code == 200 else "released")
        orders.append(created.json()["id"])
    stock = await read_stock(committed_engine, floor)
    check_stock(stock, set())  # nothing holds stock any more
    await check_allocations(committed_engine, orders)  # the ledger issued what was fulfilled
    await assert_reconciled(committed_client, admin)


async def test_ten_orders_with_one_key_make_one_allocation(
    committed_client: httpx.AsyncClient, committed_engine: AsyncEngine, staff: Staff
) -> None:
    clerk, _, admin = staff
    floor = await stock_floor(committed_client, staff, [[10, 10]], 2)
    reference = new_reference()
    headers = {**clerk, "Idempotency-Key": f"race-{reference}"}
    order = Cart((Line(0, 4), Line(0, 3)))
    responses = await asyncio.gather(
        *(allocate(committed_client, headers, floor, order, reference) for _ in range(10))
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    in_flight = [r.json()["type"] for r in responses if r.status_code == 409]
    assert set(in_flight) <= {"/problems/idempotency-key-in-flight"}
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1, created  # replays carry the same allocation
    stock = await read_stock(committed_engine, floor)
    check_stock(stock, {p for r in responses if r.status_code == 201 for p in picks_of(r.json())})
    assert stock.reserved(floor) == {0: 7}
    async with committed_engine.connect() as connection:
        rows = await connection.scalar(
            text("SELECT count(*) FROM allocations WHERE reference = :r"), {"r": reference}
        )
    assert rows == 1
    await assert_reconciled(committed_client, admin)


async def test_an_order_a_fulfilment_ends_after_a_count_is_fulfilled_and_announced_once(
    committed_client: httpx.AsyncClient, committed_engine: AsyncEngine, staff: Staff
) -> None:
    """Found by the property test: one pick cut to nothing by a count, the other fulfilled.
    The fulfilment issued all the order still held, so it ends `fulfilled` (what the path
    that takes the last held units names), announced by its own `allocation.fulfilled`
    alone: no `allocation.released` beside it."""
    clerk, _, admin = staff
    floor = await stock_floor(committed_client, staff, [[3, 3]], 2)
    created = await allocate(
        committed_client, clerk, floor, Cart((Line(0, 2, 0), Line(0, 2, 1))), new_reference()
    )
    assert created.status_code == 201, created.text
    order = created.json()
    counted = await post_count(committed_client, clerk, floor.locations[1], (floor.products[0], 0))
    assert counted.status_code == 201, counted.text
    url = f"{API}/stock/allocations/{order['id']}"
    fulfilled = await committed_client.post(f"{url}/fulfil", json={}, headers=clerk)
    assert fulfilled.status_code == 200, fulfilled.text
    assert fulfilled.json()["allocation"]["status"] == "fulfilled"
    assert [line["fulfilled"] for line in fulfilled.json()["allocation"]["lines"]] == [2, 0]
    await assert_reconciled(committed_client, admin)
    assert await count_events(committed_engine, "allocation.fulfilled", "id", [order["id"]]) == 1
    assert await count_events(committed_engine, "allocation.released", "id", [order["id"]]) == 0


async def test_an_order_waiting_on_a_transfer_sees_where_the_stock_went(
    own_database_url: str, tmp_path: Path
) -> None:
    """Found by the property test. A transfer moves all six units from `a` to `b` (which
    held none) and is held open after its write; an order for six, waiting behind it on
    the level, then runs: the six units are there, at `b`, so it must be served, not
    refused as if the stock had gone."""
    await install_hold_trigger(own_database_url)
    engine = create_async_engine(own_database_url)
    app = create_app(make_settings(own_database_url, tmp_path))
    try:
        async with in_process(app) as client, holds(own_database_url) as held:
            staff = (
                await committed_headers(engine, client, Role.CLERK),
                await committed_headers(engine, client, Role.MANAGER),
                await committed_headers(engine, client, Role.ADMIN),
            )
            clerk, _, admin = staff
            floor = await stock_floor(client, staff, [[6, 0]], 2)
            product, (a, b) = floor.products[0], floor.locations
            await held.hold("hold-transfer")
            transfer = asyncio.create_task(
                client.post(
                    f"{API}/stock/transfers",
                    json={
                        "product_id": product["id"],
                        "from_location_id": a["id"],
                        "to_location_id": b["id"],
                        "quantity": 6,
                        "reference": "hold-transfer",
                    },
                    headers=clerk,
                )
            )
            await held.until_waiting(1)
            order = asyncio.create_task(
                allocate(client, clerk, floor, Cart((Line(0, 6),)), new_reference())
            )
            await until_lock_waits(engine, 1)  # the order, behind the transfer's level lock
            await held.release("hold-transfer")
            assert (await transfer).status_code == 201
            served = await order
            check_order_answer(served, floor, Cart((Line(0, 6),)))
            assert served.status_code == 201, served.text
            await assert_reconciled(client, admin)
    finally:
        await engine.dispose()
