"""Webhook delivery across real `stockroom serve` processes, to a real receiver in the test
process (`tests.support.webhooks`: every request verified with `standardwebhooks`).

- A process killed with SIGKILL mid-delivery loses nothing: its attempts' leases run out
  and a new process delivers them again (at least once: duplicates only for the attempts
  that were running at the kill).
- Two processes on one database share the queue and never send one event twice at once
  (nor, with no failure, twice at all).
- Events committed while no process delivers are delivered when one starts.

The delivery settings are shrunk (timeout 2 s, so a lease of 9 s; short retries; a 0.1 s
poll): the same code path, shorter waits. Waits are polls with deadlines.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from src.models.user import Role, User
from tests.support.factories import committed_users, login_headers
from tests.support.polling import until
from tests.support.servers import ServerProcess, served
from tests.support.settings import TEST_SECRET_KEY
from tests.support.stock import new_location, new_product, post_movement
from tests.support.webhooks import Answer, Delivery, Receiver, movement_ids, receiving

pytestmark = pytest.mark.server

API = "/api/v1"
CONCURRENCY = 4
HOOKS = {
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_RETRY_SCHEDULE_SECONDS": ",".join(["0.5"] * 8),
    "WEBHOOK_POLL_SECONDS": "0.1",
    "WEBHOOK_CONCURRENCY": str(CONCURRENCY),
    "RATE_LIMIT_DEFAULT": "100000/minute",
    "LOGIN_RATE_LIMIT_PER_CLIENT": "1000/minute",
    "LOGIN_RATE_LIMIT_PER_ACCOUNT": "1000/minute",
}
# A process that serves the API and delivers nothing.
NO_DELIVERY = {**HOOKS, "WEBHOOK_CONCURRENCY": "0"}
# A deadline, not a wait: the lease (timeout * 2 + 5) plus the time to drain what is left,
# with room for the feed's horizon (a transaction with an older xid anywhere on the server,
# such as another test run's, holds events back until it ends).
DRAIN_SECONDS = 60


@dataclass
class Shop:
    """One server's API, logged in as an admin, with a product and a location."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    product: dict[str, Any]
    location: dict[str, Any]

    async def hook(self, url: str) -> dict[str, Any]:
        response = await self.client.post(
            f"{API}/webhooks",
            json={"url": url, "event_types": ["movement.created"]},
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        endpoint: dict[str, Any] = response.json()
        return endpoint

    async def hook_to(self, receiver: Receiver) -> dict[str, Any]:
        """An endpoint at `receiver`, whose verifier learns its secret."""
        endpoint = await self.hook(receiver.url)
        receiver.secrets.append(endpoint["secret"])
        return endpoint

    async def receipts(self, count: int, parallel: int = 4) -> list[str]:
        """Post `count` receipts, `parallel` at a time; their movement ids, as committed."""
        ids: list[str] = []

        async def post(share: int) -> None:
            for _ in range(share):
                response = await post_movement(
                    self.client, self.headers, self.product, self.location, "receipt", 1
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])

        shares = [count // parallel + (i < count % parallel) for i in range(parallel)]
        await asyncio.gather(*(post(share) for share in shares))
        return ids


async def new_admin(database_url: str) -> User:
    (admin,) = await committed_users(database_url, Role.ADMIN)
    return admin


async def open_shop(
    client: httpx.AsyncClient, admin: User, product: dict[str, Any] | None = None
) -> Shop:
    headers = await login_headers(client, admin)
    product = product or await new_product(client, headers)
    return Shop(client, headers, product, await new_location(client, headers))


async def deliveries(database_url: str) -> list[tuple[str, str, int]]:
    """(event_id, status, attempts) of every delivery, read from the table itself."""
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT event_id, status::text, attempts FROM webhook_deliveries")
            )
        ).all()
    await engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


async def leased(database_url: str) -> int:
    """Pending deliveries whose attempt's lease still runs."""
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(*) FROM webhook_deliveries"
                " WHERE status = 'pending' AND claimed_until > now()"
            )
        )
    await engine.dispose()
    return int(count or 0)


def attempts_logged(server: ServerProcess) -> int:
    return sum("webhook_attempt" in line for line in server.output().splitlines())


class Slow:
    """A receiver's script: answer 200 after `seconds`, counting the requests being answered
    (and the most at once)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, _: Delivery) -> Answer:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.in_flight -= 1
        return 200, {}, b""


async def test_sigkill_mid_delivery_loses_no_event(own_database_url: str, tmp_path: Path) -> None:
    url = own_database_url
    admin = await new_admin(url)
    slow = Slow(0.7)
    receiver = Receiver(script=slow)
    async with receiving(receiver):
        async with (
            served(url, tmp_path / "first", TEST_SECRET_KEY, env=HOOKS) as first,
            httpx.AsyncClient(base_url=first.base, timeout=10) as client,
        ):
            shop = await open_shop(client, admin)
            endpoint = await shop.hook_to(receiver)
            started = time.monotonic()
            posted = await shop.receipts(40)
            await receiver.wait_for(
                lambda: len(receiver.received) >= 10 and slow.in_flight > 0, DRAIN_SECONDS
            )
            in_flight_at_kill = slow.in_flight
            first.process.send_signal(signal.SIGKILL)
            received_before_kill = len(receiver.received)
            killed_after = time.monotonic() - started
            await asyncio.to_thread(first.process.wait, 10)
        assert first.process.returncode == -signal.SIGKILL
        assert in_flight_at_kill > 0
        assert received_before_kill < len(posted), "the kill must come mid-delivery"
        # The attempts the kill cut short are pending, held by leases of a dead process.
        assert await leased(url) >= 1

        restarted_at = time.monotonic()
        async with served(url, tmp_path / "second", TEST_SECRET_KEY, env=HOOKS):
            await receiver.wait_for(
                lambda: set(movement_ids(receiver)) >= set(posted), seconds=DRAIN_SECONDS
            )

            async def all_recorded() -> bool:
                return all(status != "pending" for _, status, _ in await deliveries(url))

            await until(all_recorded, 10)
            drained_in = time.monotonic() - restarted_at

    rows = await deliveries(url)
    assert sorted(set(movement_ids(receiver))) == sorted(posted)  # none lost
    assert receiver.unverified == []
    assert all(d.verified_with == [endpoint["secret"]] for d in receiver.received)
    assert Counter(status for _, status, _ in rows) == {"delivered": len(posted)}
    # At least once: an event is sent again only if the dead process's attempt at it was
    # running (sent or not) when it was killed, at most one per slot.
    sent = Counter(d.id for d in receiver.received)
    assert all(sent[event_id] <= attempts for event_id, _, attempts in rows)
    assert sum(attempts for _, _, attempts in rows) - len(rows) <= CONCURRENCY
    duplicates = len(receiver.received) - len(posted)
    assert 0 <= duplicates <= CONCURRENCY
    assert receiver.overlaps == 0
    print(
        f"\nsigkill: {received_before_kill} delivered in {killed_after:.2f} s before the kill"
        f" ({received_before_kill / killed_after:.1f}/s), {in_flight_at_kill} in flight;"
        f" restart drained the rest in {drained_in:.2f} s; duplicates {duplicates}"
    )


async def test_two_processes_share_the_queue_and_send_each_event_once(
    own_database_url: str, tmp_path: Path
) -> None:
    url = own_database_url
    admin = await new_admin(url)
    slow = Slow(0.2)
    receiver = Receiver(script=slow)
    async with (
        receiving(receiver),
        served(url, tmp_path / "a", TEST_SECRET_KEY, env=HOOKS) as a,
        served(url, tmp_path / "b", TEST_SECRET_KEY, env=HOOKS) as b,
        httpx.AsyncClient(base_url=a.base, timeout=10) as client_a,
        httpx.AsyncClient(base_url=b.base, timeout=10) as client_b,
    ):
        shop_a = await open_shop(client_a, admin)
        shop_b = await open_shop(client_b, admin, shop_a.product)
        await shop_a.hook_to(receiver)
        started = time.monotonic()
        halves = await asyncio.gather(shop_a.receipts(50), shop_b.receipts(50))
        posted = [*halves[0], *halves[1]]
        await receiver.wait_for(
            lambda: set(movement_ids(receiver)) >= set(posted), seconds=DRAIN_SECONDS
        )
        took = time.monotonic() - started

        async def all_recorded() -> bool:
            rows = await deliveries(url)
            return len(rows) == len(posted) and all(s == "delivered" for _, s, _ in rows)

        await until(all_recorded, 10)
        await asyncio.sleep(0.5)  # time enough for a wrong second attempt

    rows = await deliveries(url)
    assert receiver.overlaps == 0
    assert receiver.unverified == []
    assert sorted(movement_ids(receiver)) == sorted(posted)  # each exactly once
    assert set(Counter(d.id for d in receiver.received).values()) == {1}
    assert sorted((s, n) for _, s, n in rows) == [("delivered", 1)] * len(posted)
    assert {event_id for event_id, _, _ in rows} == {d.id for d in receiver.received}
    assert slow.peak <= 2 * CONCURRENCY
    # Both processes did part of the work (the servers have stopped: their logs are whole).
    by_a, by_b = attempts_logged(a), attempts_logged(b)
    assert by_a > 0
    assert by_b > 0
    assert by_a + by_b == len(posted)
    print(
        f"\ntwo processes: {len(posted)} delivered in {took:.2f} s"
        f" ({len(posted) / took:.1f}/s), A {by_a} / B {by_b} attempts,"
        f" at most {slow.peak} at once"
    )


async def test_events_committed_while_no_process_delivers_are_delivered_later(
    own_database_url: str, tmp_path: Path
) -> None:
    url = own_database_url
    admin = await new_admin(url)
    receiver = Receiver()
    posted: list[str] = []

    def arrived() -> bool:
        return set(movement_ids(receiver)) == set(posted)

    async with receiving(receiver):
        # A database no delivering process has ever run on: the endpoint and the first
        # movements are committed by a process with WEBHOOK_CONCURRENCY=0.
        async with (
            served(url, tmp_path / "api-1", TEST_SECRET_KEY, env=NO_DELIVERY) as api,
            httpx.AsyncClient(base_url=api.base, timeout=10) as client,
        ):
            shop = await open_shop(client, admin)
            await shop.hook_to(receiver)
            posted += await shop.receipts(5)
            product = shop.product
        assert await deliveries(url) == []
        async with served(url, tmp_path / "hooks-1", TEST_SECRET_KEY, env=HOOKS):
            await receiver.wait_for(arrived, DRAIN_SECONDS)

        # Again once a delivering process has run (and left its place in the log).
        async with (
            served(url, tmp_path / "api-2", TEST_SECRET_KEY, env=NO_DELIVERY) as api,
            httpx.AsyncClient(base_url=api.base, timeout=10) as client,
        ):
            posted += await (await open_shop(client, admin, product)).receipts(5)
        assert len(movement_ids(receiver)) == 5
        async with served(url, tmp_path / "hooks-2", TEST_SECRET_KEY, env=HOOKS):
            await receiver.wait_for(arrived, DRAIN_SECONDS)

            async def all_recorded() -> bool:
                rows = await deliveries(url)
                return len(rows) == len(posted) and all(s == "delivered" for _, s, _ in rows)

            await until(all_recorded, 10)

    assert sorted(movement_ids(receiver)) == sorted(posted)
    assert receiver.unverified == []
    assert sorted((s, n) for _, s, n in await deliveries(url)) == [("delivered", 1)] * 10
