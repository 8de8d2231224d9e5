"""Property: random carts race in steps on three thinly stocked products, beside plain
reservations, issues, transfers, counts, and fulfilments, releases, extensions and expiries
of the orders already served (and their picks' own reservation endpoints, which refuse).
After every step nothing is oversold, `reserved` is what active reservations hold, every
reservation holding stock was answered 201, a refused order left nothing behind and really
could not be served, each served order's picks, lines, status, expiry, events and ledger
agree, and `/stock/reconciliation` is clean (issue #26, item 3).

Unlike the availability property test, this one needs committed data and concurrent
connections (`committed_client`): every step's requests run at once, so the model cannot
say who wins, only what must hold whoever does.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.allocation_db import backdate
from tests.support.allocation_races import (
    INSUFFICIENT,
    Cart,
    Floor,
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
from tests.support.factories import Headers
from tests.support.stock import (
    API,
    Item,
    assert_reconciled,
    post_count,
    post_movement,
    post_transfer,
    reserve,
)

# Random carts (and reservations, issues, transfers, counts, fulfilments and releases)
# race in steps on three products at three locations stocked thinly: most steps refuse some.
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
# The whole order from one location: unpinned (two pins apart would be a plain conflict).
single = st.builds(
    Cart,
    lines=st.lists(line.map(lambda x: Line(x.product, x.quantity)), min_size=1, max_size=3).map(
        tuple
    ),
    prefer=st.lists(l_ix, unique=True, max_size=LOCATIONS).map(tuple),
    single=st.just(True),
)
which = st.integers(0, 50)
action = st.one_of(
    st.tuples(st.just("order"), cart),
    st.tuples(st.just("order"), cart),
    st.tuples(st.just("order"), single),
    st.tuples(st.just("release"), which),
    st.tuples(st.just("extend"), which, st.integers(60, 3600)),
    # A pick moves only through its allocation: its reservation's own endpoints refuse.
    # A count cuts the level's reservations, picks included, when it finds fewer units.
    st.tuples(st.just("count"), p_ix, l_ix, st.integers(0, 6)),
    st.tuples(st.just("pick"), which, st.sampled_from(["fulfil", "release"])),
    # Backdated before the step's requests go: they, and the sweeper, race to expire it.
    st.tuples(st.just("expire"), which),
    st.tuples(st.just("fulfil"), which, st.booleans()),
    st.tuples(st.just("fulfil"), which, st.booleans()),
    st.tuples(st.just("reserve"), p_ix, l_ix, st.integers(1, 4)),
    st.tuples(st.just("issue"), p_ix, l_ix, st.integers(1, 4)),
    # Two levels locked at once by another path: it must take them in the same order.
    st.tuples(st.just("transfer"), p_ix, l_ix, st.integers(1, LOCATIONS - 1), st.integers(1, 4)),
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
    counted: bool = False  # a count ran: it may have cut picks
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
        return allocate(client, clerk, floor, act[1], new_reference())
    if kind == "reserve":
        _, p, loc, q = act
        return reserve(client, clerk, floor.products[p], floor.locations[loc], q)
    if kind == "issue":
        _, p, loc, q = act
        return post_movement(client, clerk, floor.products[p], floor.locations[loc], "issue", q)
    if kind == "count":
        _, p, loc, units = act
        return post_count(client, clerk, floor.locations[loc], (floor.products[p], units))
    if kind == "transfer":
        _, p, source, shift, q = act  # to another location: `shift` places further on
        at = floor.locations
        target = at[(source + shift) % LOCATIONS]
        return post_transfer(client, clerk, floor.products[p], at[source], target, q)
    if not race.won:
        return None
    allocation = race.won[act[1] % len(race.won)]
    url = f"{API}/stock/allocations/{allocation['id']}/{kind}"
    if kind == "release":
        return client.post(url, headers=clerk)
    if kind == "extend":
        return client.post(url, json={"expires_in": act[2]}, headers=clerk)
    if kind == "pick":
        reservation = picks_of(allocation)[0]
        return client.post(f"{API}/stock/reservations/{reservation}/{act[2]}", headers=clerk)
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
    elif kind in {"reserve", "issue", "transfer"}:
        assert status in {201, 409}, response.text
        if status == 409:
            assert answer["type"] == INSUFFICIENT, answer
        elif kind == "reserve":
            race.answered.add(answer["id"])
    elif kind == "count":
        assert status == 201, response.text
        race.counted = True
        step.freed[act[1]] += act[3]  # at most what it found: never more than that freed
        event("a count ran")
    elif kind == "pick":
        assert status == 409, response.text
    elif kind == "extend":
        # An ended order, or an overdue one (expired there and then), cannot be extended.
        assert status in {200, 409}, response.text
        if status == 200:
            assert answer["status"] in {"active", "partially_fulfilled"}, answer
            event("an allocation was extended")
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
            # Once a count has cut some of its picks to nothing, fulfilling the rest ends it
            # released (not every line was fulfilled); `check_allocations` checks the rule.
            ends = {"partially_fulfilled", "fulfilled"} | ({"released"} if race.counted else set())
            assert answer["allocation"]["status"] in ends, answer
            event("an allocation was fulfilled")


def _sent_reference(response: httpx.Response) -> str:
    """The reference an order was sent with (read back from the request)."""
    body: dict[str, Any] = json.loads(response.request.content)
    return str(body["reference"])


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stock=shelves,
    steps=st.lists(st.lists(action, min_size=2, max_size=8), min_size=1, max_size=4),
)
async def test_racing_carts_never_oversell_and_refused_orders_hold_nothing(
    committed_client: httpx.AsyncClient,
    committed_engine: AsyncEngine,
    staff: Staff,
    stock: list[list[int]],
    steps: list[list[tuple[Any, ...]]],
) -> None:
    _, _, admin = staff
    race = Race(await stock_floor(committed_client, staff, stock, LOCATIONS), staff[0])
    for acts in steps:
        won = race.won
        due = {won[act[1] % len(won)]["id"] for act in acts if act[0] == "expire" and won}
        if due:
            await backdate(committed_engine, sorted(due))
            event("an allocation fell due")
        sending = [(act, _send(committed_client, race, act)) for act in acts if act[0] != "expire"]
        sent = [(act, call) for act, call in sending if call is not None]
        responses = await asyncio.gather(*(call for _, call in sent))
        step = Step()
        for (act, _), response in zip(sent, responses, strict=True):
            _sort_out(race, step, act, response)
        shown = await read_stock(committed_engine, race.floor)
        check_stock(shown, race.answered)
        statuses = await check_allocations(
            committed_engine, [a["id"] for a in race.won], counted=race.counted
        )
        for status in set(statuses.values()):
            event(f"an allocation was {status} after a step")
        await check_refused(committed_engine, [reference for _, reference in step.refused])
        refused = [c for c, _ in step.refused]
        check_refusals_were_due(refused, shown.available(race.floor), step.freed)
        await assert_reconciled(committed_client, admin)
