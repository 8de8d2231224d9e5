"""Reservations racing on committed transactions: the database decides, and afterwards
`0 <= reserved <= on_hand`, the ledger adds up, and every unit was taken at most once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.main import create_app
from tests.support.factories import Headers
from tests.support.servers import in_process
from tests.support.settings import make_settings
from tests.support.stock import (
    API,
    level,
    new_location,
    new_product,
    post_movement,
    receive,
    reserve,
)


async def _stocked(client: httpx.AsyncClient, clerk: Headers, manager: Headers, n: int) -> Any:
    product = await new_product(client, manager)
    location = await new_location(client, manager)
    await receive(client, clerk, product, location, n)
    return product, location


async def _clean(client: httpx.AsyncClient, admin: Headers) -> None:
    reconciliation = await client.get(f"{API}/stock/reconciliation", headers=admin)
    assert reconciliation.status_code == 200
    assert reconciliation.json()["mismatches"] == []


@pytest.mark.slow
async def test_fifty_reservations_of_one_against_twenty(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product, location = await _stocked(committed_client, clerk, manager, 20)
    responses = await asyncio.gather(
        *(reserve(committed_client, clerk, product, location, 1) for _ in range(50))
    )
    assert Counter(r.status_code for r in responses) == {201: 20, 409: 30}
    shown = await level(committed_client, clerk, product, location)
    assert (shown["on_hand"], shown["reserved"], shown["available"]) == (20, 20, 0)
    await _clean(committed_client, admin)


@pytest.mark.slow
async def test_issues_racing_reservations_never_take_reserved_stock(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product, location = await _stocked(committed_client, clerk, manager, 40)
    calls = []
    for i in range(60):
        if i % 2:
            calls.append(reserve(committed_client, clerk, product, location, 1))
        else:
            calls.append(post_movement(committed_client, clerk, product, location, "issue", 1))
    responses = await asyncio.gather(*calls)
    assert {r.status_code for r in responses} <= {201, 409}
    reserved = sum(1 for i, r in enumerate(responses) if i % 2 and r.status_code == 201)
    issued = sum(1 for i, r in enumerate(responses) if not i % 2 and r.status_code == 201)
    assert reserved + issued == 40  # every unit went exactly once
    shown = await level(committed_client, clerk, product, location)
    assert shown["on_hand"] == 40 - issued
    assert shown["reserved"] == reserved
    assert shown["available"] == 0
    await _clean(committed_client, admin)


@pytest.mark.slow
async def test_fulfil_racing_release_of_one_reservation_one_wins(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product, location = await _stocked(committed_client, clerk, manager, 50)
    for _ in range(5):
        held = (await reserve(committed_client, clerk, product, location, 2)).json()
        url = f"{API}/stock/reservations/{held['id']}"
        fulfil, release = await asyncio.gather(
            committed_client.post(f"{url}/fulfil", headers=clerk),
            committed_client.post(f"{url}/release", headers=clerk),
        )
        assert sorted([fulfil.status_code, release.status_code]) in ([200, 409], [201, 409])
        final = (await committed_client.get(url, headers=clerk)).json()
        assert final["status"] == ("fulfilled" if fulfil.status_code == 201 else "released")
    shown = await level(committed_client, clerk, product, location)
    assert shown["reserved"] == 0
    ledger = await committed_client.get(
        f"{API}/stock/movements",
        params={"product_id": product["id"], "kind": "issue"},
        headers=clerk,
    )
    assert 50 - shown["on_hand"] == -sum(m["quantity"] for m in ledger.json()["items"])
    await _clean(committed_client, admin)


async def test_many_fulfilments_of_one_reservation_take_it_once(
    committed_client: httpx.AsyncClient, staff: tuple[Headers, Headers, Headers]
) -> None:
    clerk, manager, admin = staff
    product, location = await _stocked(committed_client, clerk, manager, 10)
    held = (await reserve(committed_client, clerk, product, location, 10)).json()
    url = f"{API}/stock/reservations/{held['id']}/fulfil"
    responses = await asyncio.gather(
        *(committed_client.post(url, json={"quantity": 3}, headers=clerk) for _ in range(6))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 3  # 3 + 3 + 3; the fourth finds 1 left (422), then none
    assert set(statuses) <= {201, 409, 422}
    shown = await level(committed_client, clerk, product, location)
    assert (shown["on_hand"], shown["reserved"]) == (1, 1)
    await _clean(committed_client, admin)


@pytest.mark.slow
async def test_an_expiring_reservation_frees_its_stock_exactly_once(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    staff: tuple[Headers, Headers, Headers],
    tmp_path: Path,
) -> None:
    """Issues race the sweeper (every 50 ms here) for the stock an overdue reservation held."""
    clerk, manager, admin = staff
    settings = make_settings(committed_database_url, tmp_path, reservation_sweep_seconds=0.05)
    async with in_process(create_app(settings)) as client:
        product, location = await _stocked(client, clerk, manager, 10)
        held = (await reserve(client, clerk, product, location, 10)).json()
        async with committed_engine.begin() as connection:
            await connection.execute(
                text("UPDATE reservations SET expires_at = now() WHERE id = :id"),
                {"id": held["id"]},
            )
        responses = await asyncio.gather(
            *(post_movement(client, clerk, product, location, "issue", 1) for _ in range(20))
        )
        assert Counter(r.status_code for r in responses) == {201: 10, 409: 10}
        deadline = time.monotonic() + 10
        while (await client.get(f"{API}/stock/reservations/{held['id']}", headers=clerk)).json()[
            "status"
        ] != "expired":
            assert time.monotonic() < deadline, "the reservation never expired"
            await asyncio.sleep(0.05)
        shown = await level(client, clerk, product, location)
        assert (shown["on_hand"], shown["reserved"]) == (0, 0)
        async with committed_engine.connect() as connection:
            expired = await connection.scalar(
                text(
                    "SELECT count(*) FROM events WHERE type = 'reservation.expired' "
                    "AND data->>'id' = :id"
                ),
                {"id": held["id"]},
            )
        assert expired == 1
        await _clean(client, admin)


@pytest.mark.slow
async def test_the_sweeper_expires_overdue_reservations_on_its_own(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    staff: tuple[Headers, Headers, Headers],
    tmp_path: Path,
) -> None:
    clerk, manager, _ = staff
    settings = make_settings(committed_database_url, tmp_path, reservation_sweep_seconds=0.05)
    async with in_process(create_app(settings)) as client:
        product, location = await _stocked(client, clerk, manager, 10)
        held = [(await reserve(client, clerk, product, location, 3)).json() for _ in range(2)]
        async with committed_engine.begin() as connection:
            await connection.execute(
                text("UPDATE reservations SET expires_at = now() WHERE id = :id"),
                {"id": held[0]["id"]},
            )
        deadline = time.monotonic() + 10
        while (await level(client, clerk, product, location))["reserved"] != 3:
            assert time.monotonic() < deadline, "the sweeper never freed the stock"
            await asyncio.sleep(0.05)
        statuses = [
            (await client.get(f"{API}/stock/reservations/{r['id']}", headers=clerk)).json()[
                "status"
            ]
            for r in held
        ]
        assert statuses == ["expired", "active"]
