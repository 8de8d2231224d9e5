"""Whole orders (allocations) racing each other on shared products: what a race test sends,
and the invariants it reads back from the database after every step.

The invariants (issue #26): no level is oversold (`0 <= reserved <= on_hand`); a level's
`reserved` is what its active reservations hold; every reservation still holding stock was
answered 201 (a plain reservation, or a pick of an order answered 201), so a refused order
holds nothing; an allocation's picks add up to its lines, what its picks gave out is what its
lines say was fulfilled, and the ledger's issues against each pick say the same; its status
agrees with its picks. `GET /stock/reconciliation` must stay clean too (`assert_reconciled`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.support.factories import Headers
from tests.support.stock import API, Item, new_location, new_product, receive

# (product id, location id), as the database spells them (text).
Level = tuple[str, str]

INSUFFICIENT = "/problems/insufficient-stock"
# The `staff` fixture: (clerk, manager, admin) headers, committed users.
Staff = tuple[Headers, Headers, Headers]


@dataclass(frozen=True)
class Line:
    """One line of an order: a product (its index among the hot ones), how many, and the
    location (index) it is pinned to, if any."""

    product: int
    quantity: int
    pin: int | None = None


@dataclass(frozen=True)
class Cart:
    """An order as a test draws it; `prefer` are location indexes in the order preferred,
    `single` asks for the whole order from one location."""

    lines: tuple[Line, ...]
    split: bool = True
    prefer: tuple[int, ...] = ()
    single: bool = False

    def demand(self) -> Counter[int]:
        """Units wanted per product index, over the whole order."""
        wanted: Counter[int] = Counter()
        for line in self.lines:
            wanted[line.product] += line.quantity
        return wanted

    @property
    def free(self) -> bool:
        """Unpinned and split: it fits exactly when each product's total does, wherever it
        lies, so whether it could have been served is plain arithmetic."""
        return self.split and not self.single and all(line.pin is None for line in self.lines)


@dataclass
class Floor:
    """The hot products of a test and the locations that stock them."""

    products: list[Item]
    locations: list[Item]

    @property
    def product_ids(self) -> list[str]:
        return [p["id"] for p in self.products]

    def body(self, cart: Cart, reference: str) -> dict[str, Any]:
        lines: list[dict[str, Any]] = []
        for line in cart.lines:
            item: dict[str, Any] = {
                "product_id": self.products[line.product]["id"],
                "quantity": line.quantity,
            }
            if line.pin is not None:
                item["location_id"] = self.locations[line.pin]["id"]
            lines.append(item)
        body: dict[str, Any] = {"reference": reference, "lines": lines}
        if not cart.split:
            body["split"] = False
        if cart.single:
            body["single_location"] = True
        if cart.prefer:
            body["locations"] = [self.locations[i]["id"] for i in cart.prefer]
        return body


def new_reference() -> str:
    """An order reference of its own, to find the order's rows by (or their absence)."""
    return f"SO-{uuid.uuid4().hex[:12]}"


async def stock_floor(
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


async def allocate(
    client: httpx.AsyncClient, headers: dict[str, str], floor: Floor, cart: Cart, reference: str
) -> httpx.Response:
    body = floor.body(cart, reference)
    return await client.post(f"{API}/stock/allocations", json=body, headers=headers)


def picks_of(allocation: Item) -> list[str]:
    """The reservation ids of an allocation's picks, as its answer lists them."""
    return [pick["reservation_id"] for line in allocation["lines"] for pick in line["picks"]]


def check_order_answer(response: httpx.Response, floor: Floor, cart: Cart) -> None:
    """A created order holds each line whole, from where the rules allow; a refused one says
    which products were short and by how much. Nothing else (above all no 5xx)."""
    assert response.status_code in {201, 409}, response.text
    answer = response.json()
    demand = cart.demand()
    if response.status_code == 409:
        assert answer["type"] == INSUFFICIENT, answer
        shortages = answer["shortages"]
        assert shortages, answer
        short = {s["product_id"]: s for s in shortages}
        assert len(short) == len(shortages), answer  # one entry per product
        for index, product in enumerate(floor.products):
            if product["id"] in short:
                entry = short.pop(product["id"])
                assert entry["requested"] == demand[index], answer
                assert 0 <= entry["available"] < entry["requested"], answer
        assert not short, f"shortages name products the order did not ask for: {answer}"
        return
    location_ids = {loc["id"] for loc in floor.locations}
    assert len(answer["lines"]) == len(cart.lines), answer
    for sent, line in zip(cart.lines, answer["lines"], strict=True):
        assert line["product_id"] == floor.products[sent.product]["id"], answer
        assert line["quantity"] == sent.quantity, answer
        assert line["fulfilled"] == 0, answer
        picks = line["picks"]
        assert sum(pick["quantity"] for pick in picks) == sent.quantity, answer
        assert all(pick["quantity"] > 0 for pick in picks), answer
        where = {pick["location_id"] for pick in picks}
        assert where <= location_ids, answer
        assert len(where) == len(picks), answer  # one pick per location and line
        if sent.pin is not None:
            assert where == {floor.locations[sent.pin]["id"]}, answer
        if not cart.split:
            assert len(picks) == 1, answer
    if cart.single:
        assert len({p["location_id"] for line in answer["lines"] for p in line["picks"]}) == 1
    reservations = picks_of(answer)
    assert len(set(reservations)) == len(reservations), answer


@dataclass
class Stock:
    """The hot products' levels and the reservations holding stock on them."""

    levels: dict[Level, tuple[int, int]] = field(default_factory=dict)  # on_hand, reserved
    holding: dict[str, tuple[Level, int]] = field(default_factory=dict)  # id: level, remaining
    # Active reservations past their expiry: still counted in `reserved` until a write that
    # needs their stock or the sweeper expires them, but any order may take their stock.
    overdue: set[str] = field(default_factory=set)

    def available(self, floor: Floor) -> Counter[int]:
        """What each product (by index) could give an order over the floor's locations:
        on hand less what live (not overdue) reservations hold."""
        index = {p: i for i, p in enumerate(floor.product_ids)}
        locations = {loc["id"] for loc in floor.locations}
        free: Counter[int] = Counter()
        for (product, location), (on_hand, _) in self.levels.items():
            if location in locations:
                free[index[product]] += on_hand
        for id_, ((product, location), remaining) in self.holding.items():
            if location in locations and id_ not in self.overdue:
                free[index[product]] -= remaining
        return free

    def reserved(self, floor: Floor) -> Counter[int]:
        index = {p: i for i, p in enumerate(floor.product_ids)}
        total: Counter[int] = Counter()
        for (product, _), (_, reserved) in self.levels.items():
            total[index[product]] += reserved
        return total


@contextlib.asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One consistent view for several reads: the sweeper (or a request still finishing)
    must not change the figures between two statements of one check."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            yield connection


_LEVELS = text(
    "SELECT product_id::text, location_id::text, on_hand, reserved FROM stock_levels "
    "WHERE product_id::text = ANY(:products)"
)
_HOLDING = text(
    "SELECT id::text, product_id::text, location_id::text, remaining, expires_at <= now() "
    "FROM reservations "
    "WHERE product_id::text = ANY(:products) AND status = 'active'"
)


async def read_stock(engine: AsyncEngine, floor: Floor) -> Stock:
    stock = Stock()
    async with snapshot(engine) as connection:
        params = {"products": floor.product_ids}
        for product, location, on_hand, reserved in await connection.execute(_LEVELS, params):
            stock.levels[(product, location)] = (on_hand, reserved)
        for id_, product, location, remaining, due in await connection.execute(_HOLDING, params):
            stock.holding[id_] = ((product, location), remaining)
            if due:
                stock.overdue.add(id_)
    return stock


def check_stock(stock: Stock, answered: set[str]) -> None:
    """Nothing oversold, `reserved` what the active reservations hold, and every one of them
    was answered 201 (`answered`: reservation ids from 201 answers, picks included)."""
    held: Counter[Level] = Counter()
    for level, remaining in stock.holding.values():
        held[level] += remaining
    for level, (on_hand, reserved) in stock.levels.items():
        assert on_hand >= 0, (level, on_hand)
        assert 0 <= reserved <= on_hand, (level, on_hand, reserved)
        assert reserved == held[level], (level, reserved, held[level])
    assert set(held) <= set(stock.levels), "reservations on a level that does not exist"
    strays = set(stock.holding) - answered
    assert not strays, f"reservations hold stock for no order answered 201: {sorted(strays)}"


_LINES = text(
    """
    SELECT a.id::text, a.status::text, l.id::text, l.quantity, l.fulfilled,
           coalesce(sum(r.quantity), 0), coalesce(sum(r.quantity - r.remaining), 0),
           count(r.id) FILTER (WHERE r.status = 'active'),
           coalesce(sum(-m.issued), 0),
           count(r.id) FILTER (WHERE r.status = 'active' AND r.expires_at <> a.expires_at)
    FROM allocations a
    JOIN allocation_lines l ON l.allocation_id = a.id
    LEFT JOIN reservations r ON r.allocation_line_id = l.id
    LEFT JOIN LATERAL (
        SELECT sum(quantity) AS issued FROM stock_movements WHERE reservation_id = r.id
    ) m ON true
    WHERE a.id::text = ANY(:ids)
    GROUP BY a.id, a.status, l.id, l.quantity, l.fulfilled
    """
)
_ENDINGS = text(
    "SELECT data ->> 'id', type, count(*) FROM events "
    "WHERE type IN ('allocation.expired', 'allocation.released') AND data ->> 'id' = ANY(:ids) "
    "GROUP BY 1, 2"
)
_BY_REFERENCE = text("SELECT count(*) FROM allocations WHERE reference = ANY(:references)")


async def check_allocations(
    engine: AsyncEngine, ids: list[str], *, counted: bool = False
) -> dict[str, str]:
    """Per line: the picks add up to it, gave out what it says was fulfilled, and the ledger's
    issues against them agree, and its live picks expire with the order; per allocation: its
    status is what its picks make it, and
    an ending (expired, released) was announced exactly once, however many transactions
    ended its picks. After a count (`counted`) a pick may also have been cut, so its picks
    gave out at least what the line says. Returns each allocation's status."""
    if not ids:
        return {}
    lines: dict[str, list[tuple[Any, ...]]] = {}
    statuses: dict[str, str] = {}
    async with snapshot(engine) as connection:
        for row in await connection.execute(_LINES, {"ids": ids}):
            allocation, status, line, quantity, fulfilled, picked, given, active, issued, apart = (
                row
            )
            statuses[allocation] = status
            lines.setdefault(allocation, []).append((line, quantity, fulfilled, active))
            assert picked == quantity, f"line {line}: picks hold {picked}, it asked {quantity}"
            assert not apart, f"line {line}: {apart} live pick(s) expire apart from the order"
            assert given == fulfilled or (counted and given > fulfilled), (
                f"line {line}: picks gave {given}, it says {fulfilled}"
            )
            assert issued == fulfilled, f"line {line}: ledger issued {issued} for {fulfilled}"
        endings = Counter(
            {(id_, kind): n for id_, kind, n in await connection.execute(_ENDINGS, {"ids": ids})}
        )
    assert set(statuses) == set(ids), "an allocation answered 201 is missing or has no line"
    for allocation, rows in lines.items():
        status = statuses[allocation]
        if any(active for *_, active in rows):
            started = any(fulfilled for _, _, fulfilled, _ in rows)
            assert status == ("partially_fulfilled" if started else "active"), (allocation, rows)
        elif all(fulfilled == quantity for _, quantity, fulfilled, _ in rows):
            assert status == "fulfilled", (allocation, status, rows)
        else:
            # Ended by what took its last held units: expiry, a release or a count, or a
            # fulfilment that issued the rest after a count had cut a pick.
            assert status in {"released", "expired"} or (counted and status == "fulfilled"), (
                allocation,
                status,
                rows,
            )
        for ending in ("expired", "released"):
            announced = endings[(allocation, f"allocation.{ending}")]
            assert announced == int(status == ending), (allocation, status, ending, announced)
    return statuses


async def check_refused(engine: AsyncEngine, references: list[str]) -> None:
    """A refused order left no allocation behind (and so no line, and no pick: picks are
    reservations, which `check_stock` finds when they hold stock)."""
    if not references:
        return
    async with engine.connect() as connection:
        left = await connection.scalar(_BY_REFERENCE, {"references": references})
    assert left == 0, f"{left} allocation(s) written for orders answered 409"


def check_refusals_were_due(
    refused: list[Cart], available: Counter[int], freed: Counter[int]
) -> None:
    """A refused order (unpinned, split) really could not be served: some product it wanted
    had less available when it was refused than it asked for. Within a step stock becomes
    available again only through releases and counts (`freed`; overdue reservations count
    as free already), so what was available when it was refused is at least what is available now
    less what was freed since: an order refused while even that covered it was refused
    wrongly."""
    for cart in refused:
        if not cart.free:
            continue
        demand = cart.demand()
        assert any(demand[p] > available[p] - freed[p] for p in demand), (
            f"refused while the stock for it remained: wanted {dict(demand)}, "
            f"available {dict(available)}, freed meanwhile {dict(freed)}"
        )
