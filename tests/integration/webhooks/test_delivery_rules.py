"""Which events an endpoint gets, and the rules around attempts: the delivery-time address
check, Retry-After, pausing, and the metrics a delivery leaves."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from src.main import create_app
from tests.support.servers import in_process
from tests.support.settings import make_settings
from tests.support.webhook_shop import API, FAST, ShopFactory
from tests.support.webhooks import Answer, Delivery, Receiver, receiving


async def test_an_endpoint_gets_the_events_after_its_creation_only(shop: ShopFactory) -> None:
    s = await shop()
    before = await s.receipt()
    async with receiving(Receiver()) as receiver:
        await s.hook_to(receiver, event_types=["movement.created"])
        after = await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 1)
        await asyncio.sleep(0.5)
    assert [d.event["data"]["id"] for d in receiver.received] == [after["id"]]
    assert before["id"] != after["id"]


@pytest.mark.slow
async def test_event_types_narrow_what_is_sent(shop: ShopFactory) -> None:
    s = await shop()
    async with receiving(Receiver()) as products, receiving(Receiver()) as everything:
        narrow = await s.hook(products.url, event_types=["product.created", "product.created"])
        assert narrow["event_types"] == ["product.created"]
        wide = await s.hook(everything.url)
        assert wide["event_types"] == []
        products.secrets.append(narrow["secret"])
        everything.secrets.append(wide["secret"])
        await s.receipt()
        created = await s.client.post(
            f"{API}/products", json={"sku": "HOOK-1", "name": "Hooked"}, headers=s.clerk
        )
        assert created.status_code == 201
        await everything.wait_for(lambda: len(everything.received) >= 2)
        await products.wait_for(lambda: len(products.received) == 1)
        await asyncio.sleep(0.3)
    assert [d.event["type"] for d in products.received] == ["product.created"]
    assert products.received[0].event["data"]["sku"] == "HOOK-1"
    assert {"movement.created", "product.created"} <= {d.event["type"] for d in everything.received}


async def test_the_address_is_checked_again_at_delivery_time(
    shop: ShopFactory, own_database_url: str, tmp_path: Path
) -> None:
    # The endpoint was accepted while private targets were allowed; the process that
    # delivers does not allow them (as after a DNS change to a private address).
    s = await shop(webhook_concurrency=0)
    strict = make_settings(
        own_database_url, tmp_path, **{**FAST, "webhook_allow_private_targets": False}
    )
    async with (
        receiving(Receiver()) as receiver,
        in_process(create_app(strict)),
    ):
        endpoint = await s.hook(receiver.url, event_types=["movement.created"])
        await s.receipt()

        delivery = await s.failed_attempt(endpoint)
    assert receiver.received == []
    assert receiver.unverified == []
    assert delivery["last_error"] == (
        "the webhook host does not resolve to public addresses only; "
        "private targets need WEBHOOK_ALLOW_PRIVATE_TARGETS=true (development only)"
    )
    assert delivery["last_status_code"] is None


@pytest.mark.slow
async def test_retry_after_on_429_is_honoured(shop: ShopFactory) -> None:
    s = await shop(webhook_retry_schedule_seconds=[0.1, 0.1])
    arrivals: list[float] = []

    async def busy_once(_: Delivery) -> Answer:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return 429, {"Retry-After": "2"}, b"slow down"
        return 200, {}, b""

    async with receiving(Receiver(script=busy_once)) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 2)
    assert arrivals[1] - arrivals[0] >= 1.9  # not the schedule's 0.1 s
    (log,) = await s.deliveries(endpoint)
    assert (log["status"], log["attempts"]) == ("delivered", 2)


async def test_a_paused_endpoint_gets_nothing_and_resumes_from_its_re_enabling(
    shop: ShopFactory,
) -> None:
    s = await shop()
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        url = f"{API}/webhooks/{endpoint['id']}"
        paused = await s.client.patch(url, json={"is_active": False}, headers=s.admin)
        assert paused.status_code == 200
        assert paused.json()["is_active"] is False
        await s.receipt()
        await asyncio.sleep(0.5)
        assert receiver.received == []
        resumed = await s.client.patch(url, json={"is_active": True}, headers=s.admin)
        assert resumed.json()["is_active"] is True
        await asyncio.sleep(0.3)  # the dispatcher meets it again before the next receipt
        later = await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 1)
        await asyncio.sleep(0.3)
    assert [d.event["data"]["id"] for d in receiver.received] == [later["id"]]


@pytest.mark.slow
async def test_deliveries_show_in_the_metrics(shop: ShopFactory) -> None:
    s = await shop(events_lag_interval_seconds=0.05)

    async def failing(_: Delivery) -> Answer:
        return 500, {}, b""

    async with receiving(Receiver()) as good, receiving(Receiver(script=failing)) as bad:
        fine = await s.hook(good.url, event_types=["movement.created"])
        await s.hook(bad.url, event_types=["movement.created"])
        good.secrets.append(fine["secret"])
        before = (await s.client.get("/metrics")).text
        await s.receipt()
        await good.wait_for(lambda: len(good.received) == 1)
        await bad.wait_for(lambda: len(bad.unverified) + len(bad.received) >= 2)
        await asyncio.sleep(0.2)
        metrics = (await s.client.get("/metrics")).text

    def value(text: str, sample: str) -> float:
        """A sample's value (`name{labels}` exactly as exposed), 0 when absent."""
        for line in text.splitlines():
            name, _, number = line.rpartition(" ")
            if name == sample:
                return float(number)
        return 0.0

    delivered = 'stockroom_webhook_attempts_total{outcome="delivered"}'
    retried = 'stockroom_webhook_attempts_total{outcome="retry"}'
    assert value(metrics, delivered) >= value(before, delivered) + 1
    assert value(metrics, retried) >= value(before, retried) + 1
    assert "stockroom_webhook_attempt_duration_seconds_count" in metrics
    assert "stockroom_webhook_queue_depth" in metrics
    assert "stockroom_webhook_oldest_pending_seconds" in metrics


async def test_a_process_with_concurrency_zero_delivers_nothing(shop: ShopFactory) -> None:
    s = await shop(webhook_concurrency=0)
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook(receiver.url, event_types=["movement.created"])
        await s.receipt()
        await asyncio.sleep(0.5)
        # Nothing dispatched either: the outbox fills once a delivering process runs.
        assert await s.deliveries(endpoint) == []
    assert receiver.received == []


@pytest.mark.slow
async def test_pausing_during_an_attempt_never_lets_a_second_one_run_beside_it(
    shop: ShopFactory,
) -> None:
    s = await shop(webhook_timeout_seconds=5)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_first(delivery: Delivery) -> Answer:
        started.set()
        if not release.is_set():
            await release.wait()
        return 200, {}, b""

    async with receiving(Receiver(script=slow_first)) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        url = f"{API}/webhooks/{endpoint['id']}"
        await s.receipt()
        await asyncio.wait_for(started.wait(), timeout=10)  # the first attempt is running
        await s.client.patch(url, json={"is_active": False}, headers=s.admin)
        await s.client.patch(url, json={"is_active": True}, headers=s.admin)
        (failed,) = await s.deliveries(endpoint)
        assert failed["status"] == "failed"
        retried = await s.client.post(f"{url}/deliveries/{failed['id']}/retry", headers=s.admin)
        recovered = await s.client.post(
            f"{url}/recover", json={"since": failed["created_at"]}, headers=s.admin
        )
        assert retried.status_code == 202
        # Left to the running attempt: neither queued it beside that one.
        assert retried.json()["status"] == "failed"
        assert recovered.json() == {"requeued": 0}
        await asyncio.sleep(0.3)
        assert receiver.overlaps == 0
        release.set()
        await receiver.wait_for(lambda: len(receiver.received) == 1)
        await asyncio.sleep(0.2)
        # Its 2xx came after the pause: the event did arrive, so it is recorded delivered,
        # and the lease is over.
        (after,) = await s.deliveries(endpoint)
        assert (after["status"], after["attempts"]) == ("delivered", 1)
        again = await s.client.post(f"{url}/deliveries/{failed['id']}/retry", headers=s.admin)
        assert again.json()["status"] == "pending"
        await receiver.wait_for(lambda: len(receiver.received) == 2)
    assert receiver.overlaps == 0


async def test_a_slow_receiver_holds_its_own_slots_only(shop: ShopFactory) -> None:
    # Four attempts at once per endpoint (the default), eight per process: the stuck
    # endpoint takes four, and the other one is still served at once.
    s = await shop(webhook_timeout_seconds=10)
    release = asyncio.Event()
    stuck_now = 0

    async def stuck(_: Delivery) -> Answer:
        nonlocal stuck_now
        stuck_now += 1
        await release.wait()
        return 200, {}, b""

    async with receiving(Receiver(script=stuck)) as slow, receiving(Receiver()) as fast:
        await s.hook(slow.url, event_types=["movement.created"])
        await s.hook_to(fast, event_types=["movement.created"])
        for _ in range(6):
            await s.receipt()
        await fast.wait_for(lambda: len(fast.received) == 6, seconds=10)
        held = stuck_now
        release.set()
    assert held == 4  # its own cap, not more, and not everyone's
