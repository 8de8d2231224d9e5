"""The delivery log is kept as long as the event log: finished deliveries older than
EVENTS_RETENTION_DAYS are deleted in the background; pending ones never are."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import ShopFactory
from tests.support.webhooks import Answer, Delivery, Receiver, receiving


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
