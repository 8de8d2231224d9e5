"""Helpers for allocation tests: three warehouses, requests, picks by warehouse, rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers
from tests.support.stock import API, Item

ALLOCATIONS = f"{API}/stock/allocations"


@dataclass
class Warehouses:
    """Three warehouses (codes sorting as `w1` < `w2` < `w3`) and two products:
    `p` has 5 at w1, 8 at w2, 3 at w3; `q` has 4 at w1 and 6 at w3."""

    p: Item
    q: Item
    w1: Item
    w2: Item
    w3: Item


def want(product: Item, quantity: int, location: Item | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"product_id": product["id"], "quantity": quantity}
    if location is not None:
        line["location_id"] = location["id"]
    return line


async def allocate(
    client: httpx.AsyncClient, headers: Headers, *lines: dict[str, Any], **fields: Any
) -> httpx.Response:
    body = {"reference": "SO-1001", "lines": list(lines), **fields}
    return await client.post(ALLOCATIONS, json=body, headers=headers)


async def allocated(
    client: httpx.AsyncClient, headers: Headers, *lines: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    response = await allocate(client, headers, *lines, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def picks(allocation: dict[str, Any], where: Warehouses) -> list[list[tuple[str, int]]]:
    """Each line's picks as (warehouse name, units)."""
    names = {getattr(where, n)["id"]: n for n in ("w1", "w2", "w3")}
    return [
        [(names.get(p["location_id"], p["location_id"]), p["quantity"]) for p in line["picks"]]
        for line in allocation["lines"]
    ]


async def events(connection: AsyncConnection, type_: str, record_id: str) -> list[Any]:
    rows = await connection.execute(
        text("SELECT data FROM events WHERE type = :t AND data->>'id' = :id ORDER BY seq"),
        {"t": type_, "id": record_id},
    )
    return [row.data for row in rows]


async def count_rows(connection: AsyncConnection, sql: str, **params: Any) -> int:
    return int((await connection.execute(text(sql), params)).scalar_one())


async def backdate(connection: AsyncConnection, allocation: dict[str, Any]) -> None:
    """Make the allocation (and its picks) overdue: the shortest lasts a minute."""
    await connection.execute(
        text("UPDATE allocations SET expires_at = now() - interval '1 second' WHERE id = :id"),
        {"id": allocation["id"]},
    )
    await connection.execute(
        text(
            "UPDATE reservations SET expires_at = now() - interval '1 second'"
            " WHERE allocation_id = :id"
        ),
        {"id": allocation["id"]},
    )
