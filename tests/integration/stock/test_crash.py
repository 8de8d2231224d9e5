"""Kill the server with SIGKILL in the middle of a load of transfers: PostgreSQL rolls back
every transaction that had not committed, so each transfer is in the ledger with both legs
or not at all, and every level still equals the sum of its ledger."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from src.core import migrations
from src.models.user import Role
from tests.support.databases import TestServer
from tests.support.factories import DEFAULT_PASSWORD, committed_users
from tests.support.servers import served
from tests.support.settings import TEST_SECRET_KEY


@pytest.fixture
def crash_database(pg_server: TestServer) -> Iterator[str]:
    with pg_server.fresh_database("stockroom_crash") as url:
        migrations.upgrade(url)
        yield url


async def _check_ledger(url: str) -> tuple[int, int]:
    """(transfers seen, total on hand) after asserting the ledger is whole."""
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        legs = (
            await connection.execute(
                text(
                    "SELECT transfer_id, count(*), sum(quantity) FROM stock_movements"
                    " WHERE transfer_id IS NOT NULL GROUP BY transfer_id"
                )
            )
        ).all()
        assert all(count == 2 and total == 0 for _, count, total in legs), legs
        mismatched = await connection.scalar(
            text(
                "SELECT count(*) FROM stock_levels l FULL JOIN (SELECT product_id, location_id,"
                " sum(quantity) AS s FROM stock_movements GROUP BY 1, 2) m USING (product_id,"
                " location_id) WHERE coalesce(l.on_hand, 0) <> coalesce(m.s, 0)"
            )
        )
        assert mismatched == 0
        total = await connection.scalar(text("SELECT sum(on_hand) FROM stock_levels"))
    await engine.dispose()
    return len(legs), int(total or 0)


@pytest.mark.server
@pytest.mark.slow
async def test_sigkill_mid_load_leaves_no_half_transfer(
    crash_database: str, tmp_path: Path
) -> None:
    (manager,) = await committed_users(crash_database, Role.MANAGER)

    async with (
        served(
            crash_database,
            tmp_path / "data",
            TEST_SECRET_KEY,
            env={"LOGIN_RATE_LIMIT_PER_CLIENT": "1000/minute"},
        ) as server,
        httpx.AsyncClient(base_url=server.base, timeout=10) as client,
    ):
        token = (
            await client.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": manager.email,
                    "password": DEFAULT_PASSWORD,
                },
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        product = (
            await client.post(
                "/api/v1/products", json={"sku": "CRASH-1", "name": "C"}, headers=headers
            )
        ).json()
        a, b = [
            (
                await client.post(
                    "/api/v1/locations", json={"code": code, "name": code}, headers=headers
                )
            ).json()
            for code in ("CA", "CB")
        ]
        for location in (a, b):
            await client.post(
                "/api/v1/stock/movements",
                headers=headers,
                json={
                    "product_id": product["id"],
                    "location_id": location["id"],
                    "kind": "receipt",
                    "quantity": 500,
                },
            )

        async def hammer(source: dict[str, str], target: dict[str, str]) -> None:
            for _ in range(400):
                try:
                    await client.post(
                        "/api/v1/stock/transfers",
                        headers=headers,
                        json={
                            "product_id": product["id"],
                            "from_location_id": source["id"],
                            "to_location_id": target["id"],
                            "quantity": 1,
                        },
                    )
                except httpx.TransportError:
                    return  # the server is gone

        load = [asyncio.create_task(hammer(a, b) if i % 2 else hammer(b, a)) for i in range(8)]
        await asyncio.sleep(1.5)
        server.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(server.process.wait, 10)
        await asyncio.gather(*load)

    transfers, total = await _check_ledger(crash_database)
    assert transfers > 0, "the load should have committed some transfers before the kill"
    assert total == 1000

    # A restart serves again (and, leaving the block, stops cleanly on SIGTERM).
    async with (
        served(crash_database, tmp_path / "data", TEST_SECRET_KEY) as restarted,
        httpx.AsyncClient(base_url=restarted.base, timeout=5) as client,
    ):
        assert (await client.get("/api/health/ready")).status_code == 200
