"""`stockroom worker` across real processes: two workers and one API with
BACKGROUND_JOBS=false share one database.

- The API alone, with its jobs off, expires no reservation, delivers no webhook and purges
  nothing.
- Two workers then do all of it, each piece exactly once: every overdue reservation is
  expired once (one `reservation.expired` event, its stock freed once), every event reaches
  the receiver once, and the purges together delete each expired row once (their logged
  counts add up to the rows there were).

Intervals are shrunk (0.2 s) and the receiver is on loopback: the same code path, shorter
waits. Waits are polls with deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from src.models.user import Role, User
from tests.support.factories import create_user, login_headers
from tests.support.polling import until
from tests.support.servers import served
from tests.support.settings import TEST_SECRET_KEY
from tests.support.stock import level, new_location, new_product, receive, reserve
from tests.support.webhooks import Receiver, receiving
from tests.support.workers import WorkerProcess, working

pytestmark = [pytest.mark.slow, pytest.mark.server]

API = "/api/v1"
JOBS = {
    "IDEMPOTENCY_PURGE_INTERVAL_SECONDS": "0.2",
    "REFRESH_SESSION_PURGE_INTERVAL_SECONDS": "0.2",
    "EVENTS_PURGE_INTERVAL_SECONDS": "0.2",
    "RESERVATION_SWEEP_SECONDS": "0.2",
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_POLL_SECONDS": "0.1",
    "WEBHOOK_CONCURRENCY": "4",
    "RATE_LIMIT_DEFAULT": "100000/minute",
}
API_ONLY = {**JOBS, "BACKGROUND_JOBS": "false"}
LEVELS = 4
PER_LEVEL = 3
EXPIRED_ROWS = 250
# A deadline, not a wait (see webhooks/test_processes.py: the feed's horizon can hold events).
DRAIN_SECONDS = 60


async def scalar(url: str, sql: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text(sql))
    finally:
        await engine.dispose()


async def execute(url: str, sql: str, params: dict[str, Any] | None = None) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(sql), params or {})
    finally:
        await engine.dispose()


async def new_admin(url: str) -> User:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        admin = await create_user(connection, role=Role.ADMIN)
        await connection.commit()
    await engine.dispose()
    return admin


async def add_expired_rows(url: str, user: User) -> None:
    """Idempotency records past their 24 h and refresh sessions past their expiry,
    `EXPIRED_ROWS` of each, and a few fresh ones of each that must stay."""
    params = {"user": str(user.id), "count": EXPIRED_ROWS}
    await execute(
        url,
        "INSERT INTO idempotency_records (user_id, key, request_hash, response_status,"
        " response_body, created_at)"
        " SELECT CAST(:user AS uuid), 'key-' || n || '-' || (n > :count), md5(n::text), 201,"
        " '\\x7b7d'::bytea,"
        " CASE WHEN n <= :count THEN now() - interval '2 days' ELSE now() END"
        " FROM generate_series(1, :count + 3) AS n",
        params,
    )
    await execute(
        url,
        "INSERT INTO refresh_sessions (id, user_id, family_id, token_hash, expires_at)"
        " SELECT gen_random_uuid(), CAST(:user AS uuid), gen_random_uuid(),"
        " md5(random()::text) || md5(n::text),"
        " CASE WHEN n <= :count THEN now() - interval '1 hour' ELSE now() + interval '1 day' END"
        " FROM generate_series(1, :count + 3) AS n",
        params,
    )


async def expired_rows(url: str) -> tuple[int, int]:
    return (
        await scalar(
            url,
            "SELECT count(*) FROM idempotency_records WHERE created_at < now() - interval '1 day'",
        ),
        await scalar(url, "SELECT count(*) FROM refresh_sessions WHERE expires_at < now()"),
    )


def logged(workers: list[WorkerProcess], event: str) -> list[dict[str, Any]]:
    return [line for w in workers for line in w.events() if line.get("event") == event]


async def test_two_workers_do_every_job_once_and_the_api_none(
    own_database_url: str, tmp_path: Path
) -> None:
    url = own_database_url
    admin = await new_admin(url)
    receiver = Receiver()
    async with (
        receiving(receiver),
        served(url, tmp_path / "api", TEST_SECRET_KEY, env=API_ONLY) as api,
        httpx.AsyncClient(base_url=api.base, timeout=10) as client,
    ):
        headers = await login_headers(client, admin)
        response = await client.post(
            f"{API}/webhooks",
            json={
                "url": receiver.url,
                "event_types": ["movement.created", "reservation.expired"],
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        receiver.secrets.append(response.json()["secret"])
        product = await new_product(client, headers)
        locations = [await new_location(client, headers) for _ in range(LEVELS)]
        reservations = []
        for location in locations:
            await receive(client, headers, product, location, 10)
            for _ in range(PER_LEVEL):
                held = await reserve(client, headers, product, location, 2)
                assert held.status_code == 201, held.text
                reservations.append(held.json()["id"])
        await execute(url, "UPDATE reservations SET expires_at = now() - interval '1 minute'")
        await add_expired_rows(url, admin)
        events = LEVELS + LEVELS * PER_LEVEL  # receipts, then expiries

        # The API alone, its jobs off: many of their intervals pass and nothing happens.
        await asyncio.sleep(2)
        assert await scalar(url, "SELECT count(*) FROM reservations WHERE status = 'active'") == (
            len(reservations)
        )
        assert await scalar(url, "SELECT count(*) FROM webhook_deliveries") == 0
        assert receiver.received == []
        assert await expired_rows(url) == (EXPIRED_ROWS, EXPIRED_ROWS)

        async with contextlib.AsyncExitStack() as stack:
            workers = list(
                await asyncio.gather(
                    *(
                        stack.enter_async_context(
                            working(url, tmp_path / f"worker-{n}", TEST_SECRET_KEY, env=JOBS)
                        )
                        for n in range(2)
                    )
                )
            )

            async def all_done() -> bool:
                active = await scalar(
                    url, "SELECT count(*) FROM reservations WHERE status = 'active'"
                )
                return (
                    active == 0
                    and len(receiver.delivered_ids()) >= events
                    and await expired_rows(url) == (0, 0)
                )

            await until(all_done, DRAIN_SECONDS)
            await asyncio.sleep(1)  # room for a second delivery or expiry, were there one

            # Each event reached the receiver once, verified, and each delivery took one attempt.
            assert receiver.unverified == []
            counts = Counter(d.id for d in receiver.received)
            assert len(counts) == events
            assert set(counts.values()) == {1}
            rows = await scalar(
                url,
                "SELECT array_agg(status::text || ':' || attempts) FROM webhook_deliveries",
            )
            assert sorted(rows) == ["delivered:1"] * events
            assert len(logged(workers, "webhook_attempt")) == events

            # Each reservation expired once: one event each, and its stock freed once.
            expired = await scalar(
                url,
                "SELECT array_agg(data->>'id') FROM events WHERE type = 'reservation.expired'",
            )
            assert sorted(expired) == sorted(reservations)
            for location in locations:
                stock = await level(client, headers, product, location)
                assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 0, 10)
            assert sum(line["records"] for line in logged(workers, "reservation_expired")) == (
                LEVELS
            )

            # Each expired row was deleted once, across both workers; the fresh ones stay.
            for event in ("idempotency_purged", "refresh_session_purged"):
                assert sum(line["records"] for line in logged(workers, event)) == EXPIRED_ROWS
            assert await scalar(url, "SELECT count(*) FROM idempotency_records") == 3
            assert await scalar(url, "SELECT count(*) FROM refresh_sessions") >= 3

    # The API did none of it.
    output = api.output()
    for event in ("webhook_attempt", "reservation_expired", "_purged"):
        assert event not in output
