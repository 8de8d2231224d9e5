"""Retention and webhooks: finished deliveries older than EVENTS_RETENTION_DAYS are deleted
in the background, pending ones never are; and an event not yet dispatched to an active
endpoint outlives retention until it is, so days with no process delivering lose nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.webhook_shop import ShopFactory
from tests.support.webhooks import Answer, Delivery, Receiver, receiving


@pytest.mark.slow
async def test_finished_deliveries_are_purged_after_retention_pending_ones_stay(
    shop: ShopFactory,
) -> None:
    # 0.00002 days is 1.7 s: the same purge as after 30 days, with a shorter wait.
    s = await shop(
        events_retention_days=0.00002,
        events_purge_interval_seconds=0.2,
        webhook_retry_schedule_seconds=[3600],
    )

    async def failing(_: Delivery) -> Answer:
        return 500, {}, b""

    async with receiving(Receiver()) as good, receiving(Receiver(script=failing)) as bad:
        fine = await s.hook(good.url, event_types=["movement.created"])
        broken = await s.hook(bad.url, event_types=["movement.created"])
        good.secrets.append(fine["secret"])
        await s.receipt()
        await good.wait_for(lambda: len(good.received) == 1)
        seen: list[list[str]] = []

        async def purged() -> None:
            while True:
                statuses = [d["status"] for d in await s.deliveries(fine)]
                if not statuses:
                    return
                seen.append(statuses)
                await asyncio.sleep(0.1)

        await asyncio.wait_for(purged(), timeout=15)
        assert ["delivered"] in seen  # it was delivered, then deleted

    (waiting,) = await s.deliveries(broken)
    assert waiting["status"] == "pending"  # retried in an hour: kept however old it is
    assert waiting["attempts"] == 1


# 0.00002 days is 1.7 s: the same purge as after 30 days, with a shorter wait.
SHORT_RETENTION = {"events_retention_days": 0.00002, "events_purge_interval_seconds": 0.1}


async def events_of(database_url: str, type: str = "movement.created") -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM events WHERE type = :type"), {"type": type}
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def all_purged(database_url: str) -> None:
    while True:
        if not await events_of(database_url):
            return
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_events_outlive_retention_until_they_are_dispatched(shop: ShopFactory) -> None:
    # A process that delivers nothing, while retention passes several times over.
    quiet = await shop(webhook_concurrency=0, **SHORT_RETENTION)
    receiver = Receiver()
    async with receiving(receiver):
        await quiet.hook_to(receiver, event_types=["movement.created"])
        posted = sorted([(await quiet.receipt())["id"] for _ in range(3)])
        await asyncio.sleep(3)
        assert await events_of(quiet.database_url) == 3  # held for the endpoint
        # The purge did run: the product's event, from before the endpoint, is gone.
        assert await events_of(quiet.database_url, "product.created") == 0

        # A delivering process starts: everything arrives, then retention resumes.
        await shop(**SHORT_RETENTION)
        await receiver.wait_for(lambda: len(receiver.received) == 3, seconds=15)

        await asyncio.wait_for(all_purged(quiet.database_url), timeout=15)

    received = sorted(d.event["data"]["id"] for d in receiver.received)
    assert received == posted
    assert receiver.unverified == []


async def test_a_paused_endpoint_holds_nothing_back(shop: ShopFactory) -> None:
    s = await shop(webhook_concurrency=0, **SHORT_RETENTION)
    endpoint = await s.hook("http://127.0.0.1:9/hook", event_types=["movement.created"])
    paused = await s.client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", json={"is_active": False}, headers=s.admin
    )
    assert paused.status_code == 200, paused.text
    await s.receipt()

    await asyncio.wait_for(all_purged(s.database_url), timeout=15)
    assert (await s.endpoint(endpoint))["is_active"] is False
    assert await s.deliveries(endpoint) == []  # paused: nothing was queued for it
