"""Property: any sequence of postings, transfers, counts, reservations (create, fulfil,
release, expire) and shipments (create, receive, cancel) keeps `0 <= reserved <= on_hand`,
keeps every level equal to its ledger, answers each request as a model of the rules says, and
leaves `/stock/reconciliation` clean.

Expiry is simulated by moving a reservation's `expires_at` into the past; no sweeper sees
these uncommitted rows, so an overdue reservation is freed only by a write that needs its
stock (or a count below what is reserved), as the contract says.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.availability import Held, Level, Model, Sent
from tests.support.factories import Headers
from tests.support.stock import API, new_location, new_product, post_movement, receive, reserve

PRODUCTS, LOCATIONS = 2, 2

qty = st.integers(min_value=1, max_value=12)
p_ix, l_ix, pick = st.integers(0, PRODUCTS - 1), st.integers(0, LOCATIONS - 1), st.integers(0, 50)
receipt = st.tuples(st.just("receipt"), p_ix, l_ix, qty)
issue = st.tuples(st.just("issue"), p_ix, l_ix, qty)
adjustment = st.tuples(st.just("adjustment"), p_ix, l_ix, st.integers(-12, 12).filter(bool))
transfer = st.tuples(st.just("transfer"), p_ix, l_ix, l_ix, qty).filter(lambda op: op[2] != op[3])
count = st.tuples(st.just("count"), p_ix, l_ix, st.one_of(st.integers(0, 3), st.integers(0, 25)))
hold = st.tuples(st.just("reserve"), p_ix, l_ix, qty)
fulfil = st.tuples(st.just("fulfil"), pick, st.one_of(st.none(), qty))
release = st.tuples(st.just("release"), pick)
expire = st.tuples(st.just("expire"), pick)
ship = st.tuples(st.just("ship"), l_ix, l_ix, st.dictionaries(p_ix, qty, min_size=1)).filter(
    lambda op: op[1] != op[2]
)
arrive = st.tuples(st.just("receive"), pick, p_ix, st.integers(0, 6), st.integers(0, 3)).filter(
    lambda op: op[3] + op[4] > 0
)
cancel = st.tuples(st.just("cancel"), pick)
batch = st.tuples(
    st.just("batch"),
    st.lists(
        st.tuples(p_ix, l_ix, st.sampled_from(["issue", "receipt"]), qty), min_size=1, max_size=4
    ),
)
# The interesting writes first: Hypothesis leans towards a strategy's first branches (and
# shrinks towards them), so reservations, their expiry and what competes with them meet
# each other on one level often.
operation = st.one_of(
    hold, count, expire, issue, batch, fulfil, release, ship, arrive, cancel, transfer,
    adjustment, receipt,
)  # fmt: skip


@pytest.mark.slow
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(operation, min_size=10, max_size=25))
async def test_any_sequence_keeps_availability_and_the_ledger_consistent(
    client: httpx.AsyncClient,
    clerk_headers: Headers,
    manager_headers: Headers,
    admin_headers: Headers,
    connection: AsyncConnection,
    operations: list[tuple[Any, ...]],
) -> None:
    products = [await new_product(client, manager_headers) for _ in range(PRODUCTS)]
    locations = [await new_location(client, manager_headers) for _ in range(LOCATIONS)]
    model = Model()
    for p, product in enumerate(products):  # stock everywhere, so most writes can succeed
        for loc, location in enumerate(locations):
            await receive(client, clerk_headers, product, location, 15)
            model.on_hand[(p, loc)] = 15
    for op in operations:
        await _apply(op, model, client, clerk_headers, connection, products, locations)
    await _check(model, client, clerk_headers, admin_headers, products, locations)


async def _apply(
    op: tuple[Any, ...],
    model: Model,
    client: httpx.AsyncClient,
    headers: Headers,
    connection: AsyncConnection,
    products: list[Any],
    locations: list[Any],
) -> None:
    kind = op[0]
    if kind in {"receipt", "issue", "adjustment"}:
        _, p, loc, q = op
        delta = -q if kind == "issue" else q
        extra = {"reason": "correction"} if kind == "adjustment" else {}
        response = await post_movement(
            client, headers, products[p], locations[loc], kind, q, **extra
        )
        if delta > 0 or model.can_take((p, loc), -delta):
            assert response.status_code == 201, response.text
            if delta > 0:
                model.on_hand[(p, loc)] += delta
            else:
                model.take((p, loc), -delta)
        else:
            assert response.status_code == 409, response.text
    elif kind == "transfer":
        _, p, source, target, q = op
        body = {
            "product_id": products[p]["id"],
            "from_location_id": locations[source]["id"],
            "to_location_id": locations[target]["id"],
            "quantity": q,
        }
        response = await client.post(f"{API}/stock/transfers", json=body, headers=headers)
        if model.can_take((p, source), q):
            assert response.status_code == 201, response.text
            model.take((p, source), q)
            model.on_hand[(p, target)] += q
        else:
            assert response.status_code == 409, response.text
    elif kind == "count":
        _, p, loc, counted = op
        body = {
            "location_id": locations[loc]["id"],
            "lines": [{"product_id": products[p]["id"], "counted": counted}],
        }
        response = await client.post(f"{API}/stock/counts", json=body, headers=headers)
        assert response.status_code == 201, response.text
        level = (p, loc)
        if model.on_hand[level] != counted:
            if model.reserved[level] > counted:
                model.expire_overdue(level)
            excess = model.reserved[level] - counted
            if excess > 0:
                event("a count found fewer units than were reserved")
            for h in sorted(model.holding(level), key=lambda h: model.held.index(h), reverse=True):
                if excess <= 0:
                    break
                cut = min(h.remaining, excess)
                h.remaining -= cut
                excess -= cut
                model.reserved[level] -= cut
                if h.remaining == 0:
                    h.status = "released"
                    event("a count released a reservation")
            model.on_hand[level] = counted
    elif kind == "reserve":
        _, p, loc, q = op
        response = await reserve(client, headers, products[p], locations[loc], q)
        if model.can_take((p, loc), q):
            assert response.status_code == 201, response.text
            if model.on_hand[(p, loc)] - model.reserved[(p, loc)] < q:
                model.expire_overdue((p, loc))
            model.reserved[(p, loc)] += q
            model.held.append(Held(response.json()["id"], (p, loc), q))
        else:
            assert response.status_code == 409, response.text
    elif kind == "batch":
        await _batch(op[1], model, client, headers, products, locations)
    elif kind in {"fulfil", "release", "expire"}:
        await _reservation(op, model, client, headers, connection)
    else:
        await _shipment(op, model, client, headers, products, locations)


async def _batch(
    lines: list[tuple[int, int, str, int]],
    model: Model,
    client: httpx.AsyncClient,
    headers: Headers,
    products: list[Any],
    locations: list[Any],
) -> None:
    """All lines or none: each level walked in line order, after overdue reservations were
    freed where the batch's decreases exceed what the level has available."""
    body = [
        {
            "product_id": products[p]["id"],
            "location_id": locations[loc]["id"],
            "kind": k,
            "quantity": q,
        }
        for p, loc, k, q in lines
    ]
    response = await client.post(f"{API}/stock/batches", json={"movements": body}, headers=headers)
    wanted: dict[Level, int] = defaultdict(int)
    for p, loc, k, q in lines:
        wanted[(p, loc)] += q if k == "issue" else 0
    freeing = {
        level for level, n in wanted.items() if n > model.on_hand[level] - model.reserved[level]
    }
    running = {level: model.on_hand[level] for level in wanted}
    failed = None
    for index, (p, loc, k, q) in enumerate(lines):
        level = (p, loc)
        live = sum(h.remaining for h in model.holding(level) if not h.overdue)
        reserved = live if level in freeing else model.reserved[level]
        if k == "issue" and q > running[level] - reserved:
            failed = index
            break
        running[level] += q if k == "receipt" else -q
    if failed is not None:
        assert response.status_code == 409, response.text
        assert response.json()["line"] == failed
        return
    assert response.status_code == 201, response.text
    for level in freeing:
        model.expire_overdue(level)
    model.on_hand.update(running)


async def _reservation(
    op: tuple[Any, ...],
    model: Model,
    client: httpx.AsyncClient,
    headers: Headers,
    connection: AsyncConnection,
) -> None:
    if not model.held:
        return
    h = model.held[op[1] % len(model.held)]
    if op[0] == "expire":
        if h.status == "active":
            await connection.execute(
                text("UPDATE reservations SET expires_at = now() - interval '1 s' WHERE id = :i"),
                {"i": h.id},
            )
            h.overdue = True
        return
    url = f"{API}/stock/reservations/{h.id}/{op[0]}"
    if op[0] == "fulfil":
        q = op[2]
        response = await client.post(
            url, json={} if q is None else {"quantity": q}, headers=headers
        )
    else:
        response = await client.post(url, headers=headers)
    if h.status != "active" or h.overdue:
        assert response.status_code == 409, response.text
        if h.status == "active":  # refused as overdue: it (and its level's) expire at once
            model.expire_overdue(h.level)
        return
    if op[0] == "release":
        assert response.status_code == 200, response.text
        h.status = "released"
        model.reserved[h.level] -= h.remaining
        return
    q = h.remaining if op[2] is None else op[2]
    if q > h.remaining:
        assert response.status_code == 422, response.text
        return
    assert response.status_code == 201, response.text
    h.remaining -= q
    h.status = "fulfilled" if h.remaining == 0 else "active"
    model.on_hand[h.level] -= q
    model.reserved[h.level] -= q


async def _shipment(
    op: tuple[Any, ...],
    model: Model,
    client: httpx.AsyncClient,
    headers: Headers,
    products: list[Any],
    locations: list[Any],
) -> None:
    if op[0] == "ship":
        _, source, target, lines = op
        body = {
            "from_location_id": locations[source]["id"],
            "to_location_id": locations[target]["id"],
            "lines": [{"product_id": products[p]["id"], "quantity": q} for p, q in lines.items()],
        }
        response = await client.post(f"{API}/stock/shipments", json=body, headers=headers)
        if all(model.can_take((p, source), q) for p, q in lines.items()):
            assert response.status_code == 201, response.text
            for p, q in lines.items():
                model.take((p, source), q)
                model.transit[p] += q
                model.incoming[(p, target)] += q
            model.sent.append(Sent(response.json()["id"], source, target, dict(lines)))
        else:
            assert response.status_code == 409, response.text
        return
    if not model.sent:
        return
    s = model.sent[op[1] % len(model.sent)]
    url = f"{API}/stock/shipments/{s.id}"
    if op[0] == "cancel":
        response = await client.post(f"{url}/cancel", headers=headers)
        if s.status not in {"in_transit", "partially_received"}:
            assert response.status_code == 409, response.text
            return
        assert response.status_code == 200, response.text
        for p, pending in s.pending.items():
            model.transit[p] -= pending
            model.on_hand[(p, s.source)] += pending
            model.incoming[(p, s.target)] -= pending
            s.pending[p] = 0
        s.status = "completed" if s.arrived else "canceled"
        assert response.json()["status"] == s.status
        return
    _, _, p, received, damaged = op
    line = {"product_id": products[p]["id"], "received": received, "damaged": damaged}
    response = await client.post(f"{url}/receipts", json={"lines": [line]}, headers=headers)
    if s.status not in {"in_transit", "partially_received"}:
        assert response.status_code == 409, response.text
    elif p not in s.pending or received + damaged > s.pending[p]:
        assert response.status_code == 422, response.text
    else:
        assert response.status_code == 201, response.text
        s.pending[p] -= received + damaged
        s.arrived = True
        model.transit[p] -= received + damaged
        model.on_hand[(p, s.target)] += received
        model.incoming[(p, s.target)] -= received + damaged
        s.status = "completed" if not any(s.pending.values()) else "partially_received"
        assert response.json()["status"] == s.status


async def _check(
    model: Model,
    client: httpx.AsyncClient,
    headers: Headers,
    admin: Headers,
    products: list[Any],
    locations: list[Any],
) -> None:
    for p, product in enumerate(products):
        response = await client.get(
            f"{API}/stock/levels", params={"product_id": product["id"]}, headers=headers
        )
        shown = {level["location_id"]: level for level in response.json()["items"]}
        for loc, location in enumerate(locations):
            level = shown.get(location["id"], {"on_hand": 0, "reserved": 0, "incoming": 0})
            expected = (model.on_hand[(p, loc)], model.reserved[(p, loc)], model.incoming[(p, loc)])
            assert (level["on_hand"], level["reserved"], level["incoming"]) == expected
            assert 0 <= level["reserved"] <= level["on_hand"]
        in_transit = sum(
            level["on_hand"]
            for location_id, level in shown.items()
            if location_id not in {location["id"] for location in locations}
        )
        assert in_transit == model.transit[p]
    for h in model.held:
        response = await client.get(f"{API}/stock/reservations/{h.id}", headers=headers)
        assert (response.json()["status"], response.json()["remaining"]) == (h.status, h.remaining)
    reconciliation = await client.get(f"{API}/stock/reconciliation", headers=admin)
    assert reconciliation.json()["mismatches"] == []
