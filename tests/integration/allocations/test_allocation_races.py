"""Orders racing for the same stock, on committed transactions (issue #26, item 3).

Every request runs in its own transaction on its own pooled connection, so the database
decides. An order locks its levels in one global order, (product, location), whatever the
order of its lines: competing orders queue instead of deadlocking (a deadlock would be a
500 here). After every step the database must show nothing oversold, `reserved` equal to
what active reservations hold, no stock held for an order that was refused, each
allocation's picks adding up to its lines, and a clean reconciliation.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.main import create_app
from tests.support.allocation_races import (
    INSUFFICIENT,
    Cart,
    Floor,
    Line,
    allocate,
    check_allocations,
    check_order_answer,
    check_refusals_were_due,
    check_refused,
    check_stock,
    picks_of,
    read_stock,
)
from tests.support.factories import Headers
from tests.support.servers import in_process
from tests.support.settings import make_settings
from tests.support.stock import (
    API,
    Item,
    assert_reconciled,
    new_location,
    new_product,
    post_movement,
    receive,
    reserve,
)

Staff = tuple[Headers, Headers, Headers]


def _reference() -> str:
    return f"SO-{uuid.uuid4().hex[:12]}"


async def _floor(
    client: httpx.AsyncClient, staff: Staff, stock: list[list[int]], locations: int
) -> Floor:
    """New products and locations; `stock[p][loc]` units of product p received at loc."""
    clerk, manager, _ = staff
    floor = Floor(
        [await new_product(client, manager) for _ in stock],
        [await new_location(client, manager) for _ in range(locations)],
    )
    for product, row in zip(floor.products, stock, strict=True):
        for location, units in zip(floor.locations, row, strict=True):
            if units:
                await receive(client, clerk, product, location, units)
    return floor


async def _events(engine: AsyncEngine, kind: str, key: str, values: list[str]) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT count(*) FROM events WHERE type = :kind AND data ->> :key = ANY(:v)"),
            {"kind": kind, "key": key, "v": values},
        )
    return int(found or 0)


# Five hot products over three locations, each product stocked at two or three of them.
HOT_STOCK = [[6, 4, 0], [3, 3, 3], [0, 8, 2], [5, 0, 5], [4, 4, 4]]


@pytest.mark.slow
async def test_fifty_orders_on_five_hot_products_get_exactly_what_the_stock_allows(
    committed_client: httpx.AsyncClient, committed_engine: AsyncEngine, staff: Staff
) -> None:
    clerk, _, admin = staff
    floor = await _floor(committed_client, staff, HOT_STOCK, 3)
    rng = random.Random(26)
    # Three lines each, products drawn in any order (a repeat adds up): two orders naming
    # the same products in opposite orders must still queue on the levels, not deadlock.
    carts = [
        Cart(tuple(Line(rng.randrange(5), rng.randint(1, 3)) for _ in range(3))) for _ in range(50)
    ]
    references = [_reference() for _ in carts]
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
    assert await _events(committed_engine, "allocation.created", "id", won_ids) == len(won)
    lost_refs = [references[i] for i in lost]
    assert await _events(committed_engine, "allocation.created", "reference", lost_refs) == 0
    await assert_reconciled(committed_client, admin)


@pytest.mark.slow
async def test_orders_naming_products_in_opposite_orders_all_succeed_with_ample_stock(
    committed_client: httpx.AsyncClient, committed_engine: AsyncEngine, staff: Staff
) -> None:
    """Forty orders, half naming four products forwards and half backwards, split over two
    locations each: with stock for all of them, every one is served (a deadlock between
    two of them would be an error, a lock timeout a refusal)."""
    clerk, _, admin = staff
    floor = await _floor(committed_client, staff, [[30, 30]] * 4, 2)
    forwards = Cart(tuple(Line(p, 3) for p in range(4)))
    backwards = Cart(tuple(reversed(forwards.lines)))
    carts = [forwards if i % 2 else backwards for i in range(40)]
    responses = await asyncio.gather(
        *(allocate(committed_client, clerk, floor, cart, _reference()) for cart in carts)
    )
    for response, cart in zip(responses, carts, strict=True):
        check_order_answer(response, floor, cart)
    assert Counter(r.status_code for r in responses) == {201: 40}
    stock = await read_stock(committed_engine, floor)
    check_stock(stock, {pick for r in responses for pick in picks_of(r.json())})
    assert stock.reserved(floor) == Counter(dict.fromkeys(range(4), 120))
    await check_allocations(committed_engine, [r.json()["id"] for r in responses])
    await assert_reconciled(committed_client, admin)


_OVERDUE = text(
    "UPDATE reservations SET expires_at = now() WHERE allocation_line_id IN "
    "(SELECT id FROM allocation_lines WHERE allocation_id::text = ANY(:ids))"
)
_OVERDUE_ALLOCATIONS = text("UPDATE allocations SET expires_at = now() WHERE id::text = ANY(:ids)")


@pytest.mark.slow
async def test_expiring_orders_free_their_stock_once_while_new_orders_race_for_it(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    staff: Staff,
    tmp_path: Path,
) -> None:
    """Three orders hold every unit of four levels, then fall due. Thirty-two one-unit
    orders, eight pinned to each level, race each other and the sweeper (every 50 ms here)
    for those units: each level frees its picks once, so six orders win per level, and each
    old order ends expired with one `allocation.expired` event, however many transactions
    expired its picks on different levels at the same time."""
    clerk, _, admin = staff
    settings = make_settings(committed_database_url, tmp_path, reservation_sweep_seconds=0.05)
    async with in_process(create_app(settings)) as client:
        floor = await _floor(client, staff, [[6, 6], [6, 6]], 2)
        everywhere = Cart(tuple(Line(p, 2, loc) for p in range(2) for loc in range(2)))
        old = [await allocate(client, clerk, floor, everywhere, _reference()) for _ in range(3)]
        assert [r.status_code for r in old] == [201] * 3, [r.text for r in old]
        old_ids = [r.json()["id"] for r in old]
        async with committed_engine.begin() as connection:
            await connection.execute(_OVERDUE, {"ids": old_ids})
            await connection.execute(_OVERDUE_ALLOCATIONS, {"ids": old_ids})
        carts = [Cart((Line(p, 1, loc),)) for p in range(2) for loc in range(2)] * 8
        responses = await asyncio.gather(
            *(allocate(client, clerk, floor, cart, _reference()) for cart in carts)
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
        assert stock.reserved(floor) == {0: 12, 1: 12}
        await check_allocations(
            committed_engine, old_ids + [r.json()["id"] for r in responses if r.status_code == 201]
        )
        assert await _events(committed_engine, "allocation.expired", "id", old_ids) == 3
        await assert_reconciled(client, admin)


# The property: random carts (and reservations, issues, fulfilments and releases beside
# them) race in steps on three products at three locations stocked thinly, so most steps
# refuse some orders.
PRODUCTS, LOCATIONS = 3, 3
p_ix, l_ix = st.integers(0, PRODUCTS - 1), st.integers(0, LOCATIONS - 1)
line = st.builds(
    Line, product=p_ix, quantity=st.integers(1, 6), pin=st.one_of(st.none(), st.none(), l_ix)
)
cart = st.builds(
    Cart,
    lines=st.lists(line, min_size=1, max_size=3).map(tuple),
    split=st.booleans(),
    prefer=st.lists(l_ix, unique=True, max_size=LOCATIONS).map(tuple),
)
which = st.integers(0, 50)
action = st.one_of(
    st.tuples(st.just("order"), cart),
    st.tuples(st.just("order"), cart),
    st.tuples(st.just("release"), which),
    st.tuples(st.just("fulfil"), which, st.booleans()),
    st.tuples(st.just("reserve"), p_ix, l_ix, st.integers(1, 4)),
    st.tuples(st.just("issue"), p_ix, l_ix, st.integers(1, 4)),
)
shelves = st.lists(
    st.lists(st.integers(0, 9), min_size=LOCATIONS, max_size=LOCATIONS),
    min_size=PRODUCTS,
    max_size=PRODUCTS,
)


@dataclass
class Race:
    """What one example has been answered so far."""

    floor: Floor
    clerk: Headers
    won: list[Item] = field(default_factory=list)  # allocations answered 201, as answered
    answered: set[str] = field(default_factory=set)  # reservations answered 201, picks too


@dataclass
class Step:
    """One step's concurrent answers, sorted out."""

    refused: list[tuple[Cart, str]] = field(default_factory=list)
    freed: Counter[int] = field(default_factory=Counter)


def _send(client: httpx.AsyncClient, race: Race, act: tuple[Any, ...]) -> Awaitable[Any] | None:
    floor, clerk = race.floor, race.clerk
    kind = act[0]
    if kind == "order":
        return allocate(client, clerk, floor, act[1], _reference())
    if kind == "reserve":
        _, p, loc, q = act
        return reserve(client, clerk, floor.products[p], floor.locations[loc], q)
    if kind == "issue":
        _, p, loc, q = act
        return post_movement(client, clerk, floor.products[p], floor.locations[loc], "issue", q)
    if not race.won:
        return None
    allocation = race.won[act[1] % len(race.won)]
    url = f"{API}/stock/allocations/{allocation['id']}/{kind}"
    if kind == "release":
        return client.post(url, headers=clerk)
    lines = [{"line_id": allocation["lines"][0]["id"], "quantity": 1}] if act[2] else None
    return client.post(url, json={"lines": lines} if lines else {}, headers=clerk)


def _sort_out(race: Race, step: Step, act: tuple[Any, ...], response: httpx.Response) -> None:
    kind, status = act[0], response.status_code
    assert status < 500, response.text
    answer = response.json()
    if kind == "order":
        check_order_answer(response, race.floor, act[1])
        if status == 201:
            race.won.append(answer)
            race.answered.update(picks_of(answer))
            event("an order was served")
        else:
            step.refused.append((act[1], _sent_reference(response)))
            event("an order was refused")
    elif kind in {"reserve", "issue"}:
        assert status in {201, 409}, response.text
        if status == 409:
            assert answer["type"] == INSUFFICIENT, answer
        elif kind == "reserve":
            race.answered.add(answer["id"])
    elif kind == "release":
        assert status in {200, 409}, response.text
        if status == 200:
            index = {p: i for i, p in enumerate(race.floor.product_ids)}
            for held in answer["lines"]:
                step.freed[index[held["product_id"]]] += held["quantity"] - held["fulfilled"]
            assert answer["status"] == "released", answer
            event("an allocation was released")
    else:
        # Partial fulfilment of a line with nothing left to take is a 422; an ended one 409.
        assert status in {200, 201, 409, 422}, response.text
        if status in {200, 201}:
            assert answer["allocation"]["status"] in {"partially_fulfilled", "fulfilled"}
            event("an allocation was fulfilled")


def _sent_reference(response: httpx.Response) -> str:
    """The reference an order was sent with (read back from the request)."""
    body: dict[str, Any] = json.loads(response.request.content)
    return str(body["reference"])


@pytest.mark.slow
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stock=shelves,
    steps=st.lists(st.lists(action, min_size=2, max_size=6), min_size=1, max_size=4),
)
async def test_racing_carts_never_oversell_and_refused_orders_hold_nothing(
    committed_client: httpx.AsyncClient,
    committed_engine: AsyncEngine,
    staff: Staff,
    stock: list[list[int]],
    steps: list[list[tuple[Any, ...]]],
) -> None:
    _, _, admin = staff
    race = Race(await _floor(committed_client, staff, stock, LOCATIONS), staff[0])
    for acts in steps:
        sending = [(act, _send(committed_client, race, act)) for act in acts]
        sent = [(act, call) for act, call in sending if call is not None]
        responses = await asyncio.gather(*(call for _, call in sent))
        step = Step()
        for (act, _), response in zip(sent, responses, strict=True):
            _sort_out(race, step, act, response)
        shown = await read_stock(committed_engine, race.floor)
        check_stock(shown, race.answered)
        await check_allocations(committed_engine, [a["id"] for a in race.won])
        await check_refused(committed_engine, [reference for _, reference in step.refused])
        refused = [c for c, _ in step.refused]
        check_refusals_were_due(refused, shown.available(race.floor), step.freed)
        await assert_reconciled(committed_client, admin)
