"""Kill the server with SIGKILL in the middle of a load of transfers: PostgreSQL rolls back
every transaction that had not committed, so each transfer is in the ledger with both legs
or not at all, and every level still equals the sum of its ledger."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from src.core import migrations
from src.models.user import Role
from tests.conftest import TEST_SECRET_KEY
from tests.support.databases import TestServer
from tests.support.factories import DEFAULT_PASSWORD, create_user, unique_email

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def crash_database(pg_server: TestServer) -> Iterator[str]:
    with pg_server.fresh_database("stockroom_crash") as url:
        migrations.upgrade(url)
        yield url


def _start(url: str, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "STOCKROOM_DATA_DIR": str(tmp_path / "data"),
        "LOGIN_RATE_LIMIT_PER_CLIENT": "1000/minute",
    }
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "src.cli", "serve", "--port", str(port), "--no-migrate"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_up(base: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not start")


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


async def test_sigkill_mid_load_leaves_no_half_transfer(
    crash_database: str, tmp_path: Path
) -> None:
    engine = create_async_engine(crash_database)
    async with engine.connect() as connection:
        manager = await create_user(connection, email=unique_email("manager"), role=Role.MANAGER)
        await connection.commit()
    await engine.dispose()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start(crash_database, port, tmp_path)
    try:
        await asyncio.to_thread(_wait_up, base)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
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
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            await asyncio.gather(*load)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    transfers, total = await _check_ledger(crash_database)
    assert transfers > 0, "the load should have committed some transfers before the kill"
    assert total == 1000

    restarted = _start(crash_database, port, tmp_path)
    try:
        await asyncio.to_thread(_wait_up, base)
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            ready = await client.get("/api/health/ready")
        assert ready.status_code == 200
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0
