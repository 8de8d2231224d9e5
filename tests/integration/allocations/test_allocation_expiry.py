"""The sweeper expires an overdue allocation's picks level by level (a transaction each):
the allocation ends `expired` with exactly one `allocation.expired` event, and its stock is
free. Committed data and a sweep every 50 ms."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.main import create_app
from tests.support.allocations import ALLOCATIONS, want
from tests.support.factories import Headers
from tests.support.servers import in_process
from tests.support.settings import make_settings
from tests.support.stock import API, level, new_location, new_product, receive


async def test_the_sweeper_expires_an_allocation_once(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    staff: tuple[Headers, Headers, Headers],
    tmp_path: Path,
) -> None:
    clerk, manager, admin = staff
    settings = make_settings(committed_database_url, tmp_path, reservation_sweep_seconds=0.05)
    async with in_process(create_app(settings)) as client:
        product = await new_product(client, manager)
        other = await new_product(client, manager)
        places = [await new_location(client, manager) for _ in range(3)]
        for place in places:
            await receive(client, clerk, product, place, 4)
            await receive(client, clerk, other, place, 2)
        body = {"lines": [want(product, 10), want(other, 5)], "expires_in": 60}
        made = await client.post(ALLOCATIONS, json=body, headers=clerk)
        assert made.status_code == 201, made.text
        allocation = made.json()
        assert sum(len(line["picks"]) for line in allocation["lines"]) == 6
        async with committed_engine.begin() as connection:
            for table, column in (("allocations", "id"), ("reservations", "allocation_id")):
                await connection.execute(
                    text(f"UPDATE {table} SET expires_at = now() WHERE {column} = :id"),  # noqa: S608
                    {"id": allocation["id"]},
                )
        url = f"{ALLOCATIONS}/{allocation['id']}"
        deadline = time.monotonic() + 10
        while (await client.get(url, headers=clerk)).json()["status"] != "expired":
            assert time.monotonic() < deadline, "the allocation never expired"
            await asyncio.sleep(0.05)
        for item in (product, other):
            for place in places:
                assert (await level(client, clerk, item, place))["reserved"] == 0
        async with committed_engine.connect() as connection:
            expired = await connection.scalar(
                text(
                    "SELECT count(*) FROM events WHERE type = 'allocation.expired'"
                    " AND data->>'id' = :id"
                ),
                {"id": allocation["id"]},
            )
            actors = await connection.scalar(
                text(
                    "SELECT count(*) FROM events WHERE type = 'allocation.expired'"
                    " AND data->>'id' = :id AND actor IS NULL"
                ),
                {"id": allocation["id"]},
            )
        assert (expired, actors) == (1, 1)
        reconciliation = await client.get(f"{API}/stock/reconciliation", headers=admin)
        assert reconciliation.json()["mismatches"] == []
