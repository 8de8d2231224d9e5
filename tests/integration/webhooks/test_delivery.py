"""Webhook delivery end to end: the app's own workers post to a real receiver on 127.0.0.1,
which verifies every request with the `standardwebhooks` package.

Each test has a database of its own (deliveries need committed events) and an app whose
delivery settings are shrunk (retry schedule, timeout, poll interval): the same code path,
shorter waits.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.webhook_shop import API, ShopFactory
from tests.support.webhooks import Answer, Delivery, Receiver, movement_ids, receiving


async def test_a_movement_reaches_the_receiver_signed_as_the_feed_shows_it(
    shop: ShopFactory,
) -> None:
    s = await shop()
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        movement = await s.receipt(3)
        await receiver.wait_for(lambda: len(receiver.received) == 1)

    delivery = receiver.received[0]
    assert receiver.unverified == []
    assert delivery.event["type"] == "movement.created"
    assert delivery.event["data"]["id"] == movement["id"]
    assert delivery.event["data"]["quantity"] == 3
    # The webhook-id is the event's id in the feed: the same event, the same id.
    feed = await s.client.get(
        f"{API}/events", params={"types": "movement.created"}, headers=s.admin
    )
    assert [e["id"] for e in feed.json()["items"]] == [delivery.id]
    assert delivery.event["id"] == delivery.id
    log = await s.deliveries(endpoint)
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("delivered", 1, 204)
    ]
    assert log[0]["event_id"] == delivery.id
    assert log[0]["delivered_at"] is not None


@pytest.mark.slow
async def test_three_500s_then_200_is_delivered_once_after_the_retries(shop: ShopFactory) -> None:
    s = await shop()
    answers = iter([500, 500, 500, 200])

    async def flaky(_: Delivery) -> Answer:
        return next(answers), {}, b"boom"

    async with receiving(Receiver(script=flaky)) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 4)
        await asyncio.sleep(1)  # time enough for a wrong fifth attempt

    assert len(receiver.received) == 4
    assert len({d.id for d in receiver.received}) == 1  # the same webhook-id each time
    (log,) = await s.deliveries(endpoint)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 4, 200)
    assert log["last_error"] is None


@pytest.mark.slow
async def test_a_receiver_that_keeps_failing_ends_failed_with_the_reason(
    shop: ShopFactory,
) -> None:
    s = await shop()

    async def broken(_: Delivery) -> Answer:
        return 503, {}, b"down for maintenance"

    async with receiving(Receiver(script=broken)) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 4)
        await asyncio.sleep(0.8)

    assert len(receiver.received) == 4  # the first attempt and three retries
    (log,) = await s.deliveries(endpoint, status="failed")
    assert (log["attempts"], log["last_status_code"]) == (4, 503)
    assert log["last_error"] == "HTTP 503: down for maintenance"
    assert log["next_attempt_at"] is None
    assert (await s.endpoint(endpoint))["is_active"] is True  # not five days yet


@pytest.mark.slow
async def test_receiver_down_while_100_movements_are_posted_then_back_gets_all_100(
    shop: ShopFactory,
) -> None:
    # Retries must outlast the posting, however slow the machine: a delivery that ran out
    # of attempts before the receiver came back would be failed, not pending.
    s = await shop(webhook_retry_schedule_seconds=[0.3, 0.3] + [3.0] * 18)
    receiver = Receiver()
    async with receiving(receiver) as up:
        endpoint = await s.hook(up.url, event_types=["movement.created"])
        receiver.secrets.append(endpoint["secret"])
    # The receiver is gone: its port refuses connections while 100 movements are posted.
    posted = [(await s.receipt())["id"] for _ in range(100)]

    async def all_queued() -> list[dict[str, Any]]:
        # Dispatched within a poll or two of becoming visible (later under load).
        while True:
            pending = await s.deliveries(endpoint, status="pending")
            if len(pending) == 100:
                return pending
            await asyncio.sleep(0.1)

    pending = await asyncio.wait_for(all_queued(), timeout=30)
    assert len(pending) == 100
    # (An attempt running right now has no error yet.)
    assert {d["last_error"] for d in pending if d["last_error"]} == {"connection failed"}
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    async with receiving(receiver, port=port):
        await receiver.wait_for(lambda: set(movement_ids(receiver)) >= set(posted), seconds=60)

    assert sorted(set(movement_ids(receiver))) == sorted(posted)
    assert receiver.unverified == []
    assert await s.deliveries(endpoint, status="pending") == []


@pytest.mark.slow
async def test_410_gone_disables_the_endpoint_at_once(shop: ShopFactory) -> None:
    s = await shop()

    async def gone(_: Delivery) -> Answer:
        return 410, {}, b""

    async with receiving(Receiver(script=gone)) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 1)
        await asyncio.sleep(0.3)
        after = await s.endpoint(endpoint)
        assert after["is_active"] is False
        assert after["disabled_reason"] == "the endpoint answered 410 Gone"
        await s.receipt()  # nothing more is sent to a disabled endpoint
        await asyncio.sleep(0.8)

    assert len(receiver.received) == 1
    (log,) = await s.deliveries(endpoint)
    assert (log["status"], log["last_status_code"]) == ("failed", 410)


@pytest.mark.slow
async def test_a_receiver_that_never_answers_is_cut_at_the_timeout(shop: ShopFactory) -> None:
    s = await shop(webhook_timeout_seconds=0.5, webhook_retry_schedule_seconds=[60])
    release = asyncio.Event()

    async def hang(_: Delivery) -> Answer:
        await release.wait()
        return 200, {}, b""

    async with receiving(Receiver(script=hang)) as receiver:
        endpoint = await s.hook(receiver.url, event_types=["movement.created"])
        await s.receipt()

        log = await s.failed_attempt(endpoint)
        release.set()

    assert (log["status"], log["attempts"]) == ("pending", 1)
    assert log["last_error"] == "no answer within 0.5 s"
    assert log["last_status_code"] is None


async def test_during_a_rotation_both_secrets_verify(shop: ShopFactory) -> None:
    s = await shop()
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook(receiver.url, event_types=["movement.created"])
        old = endpoint["secret"]
        rotated = await s.client.post(
            f"{API}/webhooks/{endpoint['id']}/rotate-secret", headers=s.admin
        )
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old
        assert new.startswith("whsec_")
        receiver.secrets += [old, new]
        await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 1)

    (delivery,) = receiver.received
    assert sorted(delivery.verified_with) == sorted([old, new])
    assert len(delivery.signature.split(" ")) == 2


@pytest.mark.slow
async def test_after_the_overlap_only_the_new_secret_signs(shop: ShopFactory) -> None:
    s = await shop(webhook_secret_overlap_hours=0)
    async with receiving(Receiver()) as receiver:
        endpoint = await s.hook(receiver.url, event_types=["movement.created"])
        old = endpoint["secret"]
        rotated = await s.client.post(
            f"{API}/webhooks/{endpoint['id']}/rotate-secret", headers=s.admin
        )
        new = rotated.json()["secret"]
        receiver.secrets += [old, new]
        await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 1)

    assert receiver.received[0].verified_with == [new]


@pytest.mark.slow
async def test_days_without_a_success_disable_the_endpoint(shop: ShopFactory) -> None:
    # 0.00002 days is 1.7 s: the same rule as five days, with a shorter wait.
    s = await shop(webhook_disable_after_days=0.00002, webhook_retry_schedule_seconds=[0.5] * 10)

    async def broken(_: Delivery) -> Answer:
        return 500, {}, b""

    async with receiving(Receiver(script=broken)) as receiver:
        endpoint = await s.hook(receiver.url, event_types=["movement.created"])
        await s.receipt()

        async def disabled() -> dict[str, Any]:
            body = await s.endpoint(endpoint)
            while body["is_active"]:
                await asyncio.sleep(0.1)
                body = await s.endpoint(endpoint)
            return body

        after = await asyncio.wait_for(disabled(), timeout=15)

    assert after["disabled_reason"] == "no successful delivery for 2e-05 days"
    (log,) = await s.deliveries(endpoint)
    assert log["status"] == "failed"


async def test_the_test_event_goes_to_that_endpoint_alone(shop: ShopFactory) -> None:
    s = await shop()
    async with receiving(Receiver()) as first, receiving(Receiver()) as second:
        # Subscribed to movements only (none are posted): the test event comes whatever the
        # types, and nothing else can arrive.
        one = await s.hook(first.url, event_types=["movement.created"])
        two = await s.hook(second.url, event_types=["movement.created"])
        first.secrets.append(one["secret"])
        second.secrets.append(two["secret"])
        queued = await s.client.post(f"{API}/webhooks/{one['id']}/test", headers=s.admin)
        assert queued.status_code == 202, queued.text
        await first.wait_for(lambda: len(first.received) == 1)
        await asyncio.sleep(0.5)

    assert second.received == []
    event = first.received[0].event
    assert event["type"] == "webhook.test"
    assert event["data"]["endpoint_id"] == one["id"]
    assert first.received[0].id == queued.json()["event_id"]


@pytest.mark.slow
async def test_retry_and_recover_send_failed_deliveries_again(shop: ShopFactory) -> None:
    s = await shop(webhook_retry_schedule_seconds=[0.1])
    healthy = False

    async def switch(_: Delivery) -> Answer:
        return (200 if healthy else 500), {}, b""

    async with receiving(Receiver(script=switch)) as receiver:
        endpoint = await s.hook_to(receiver, event_types=["movement.created"])
        for _ in range(3):
            await s.receipt()
        await receiver.wait_for(lambda: len(receiver.received) == 6)  # 2 attempts each
        await asyncio.sleep(0.3)
        failed = await s.deliveries(endpoint, status="failed")
        assert len(failed) == 3
        healthy = True
        one = await s.client.post(
            f"{API}/webhooks/{endpoint['id']}/deliveries/{failed[0]['id']}/retry",
            headers=s.admin,
        )
        assert one.status_code == 202, one.text
        assert one.json()["status"] == "pending"
        await receiver.wait_for(lambda: len(receiver.received) == 7)
        since = failed[-1]["created_at"]
        recovered = await s.client.post(
            f"{API}/webhooks/{endpoint['id']}/recover", json={"since": since}, headers=s.admin
        )
        assert recovered.status_code == 202, recovered.text
        assert recovered.json() == {"requeued": 2}
        await receiver.wait_for(lambda: len(receiver.received) == 9)

    assert [d["status"] for d in await s.deliveries(endpoint)] == ["delivered"] * 3


async def test_the_secret_is_stored_sealed(shop: ShopFactory) -> None:
    s = await shop()
    endpoint = await s.hook("http://127.0.0.1:9/hooks")
    engine = create_async_engine(s.database_url)
    async with engine.connect() as connection:
        stored = await connection.scalar(
            text("SELECT secret FROM webhook_endpoints WHERE id = :id"), {"id": endpoint["id"]}
        )
    await engine.dispose()
    raw = endpoint["secret"].removeprefix("whsec_")
    assert raw.encode() not in bytes(stored)
    assert b"whsec_" not in bytes(stored)
