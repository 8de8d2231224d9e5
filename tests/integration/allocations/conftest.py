"""Allocations: an order's stock held at once (source selection, all or nothing), fulfilled,
released, extended, expired and cut by counts; what each does to levels, reservations and
the change feed. Races between allocations are tested in test_allocation_races.py."""

from __future__ import annotations

import httpx
import pytest

from tests.support.allocations import Warehouses
from tests.support.factories import Headers
from tests.support.stock import new_location, new_product, receive


@pytest.fixture
async def warehouses(
    client: httpx.AsyncClient, manager_headers: Headers, clerk_headers: Headers
) -> Warehouses:
    p = await new_product(client, manager_headers, reorder_point=0)
    q = await new_product(client, manager_headers, reorder_point=0)
    tag = p["sku"][-8:]
    w1, w2, w3 = [
        await new_location(client, manager_headers, code=f"W{n}-{tag}") for n in (1, 2, 3)
    ]
    for product, location, units in ((p, w1, 5), (p, w2, 8), (p, w3, 3), (q, w1, 4), (q, w3, 6)):
        await receive(client, clerk_headers, product, location, units)
    return Warehouses(p, q, w1, w2, w3)
