"""Background jobs drain: one pass of the webhook delivery purge, or of the reservation
sweeper, takes batch after batch (each its own transaction) until nothing is due, and
leaves alone what is not due."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from src.core.database import build_session_factory
from src.services.reservation import expire_overdue_reservations
from src.services.webhook.dispatch import purge_finished_deliveries
from tests.support.stock import level, new_location, receive, reserve
from tests.support.webhook_shop import Shop, ShopFactory

# The app's own purge and sweep never run during a test: the test runs one pass itself.
QUIET = {
    "webhook_concurrency": 0,
    "events_purge_interval_seconds": 3600,
    "reservation_sweep_seconds": 3600,
}


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[Any]]]:
    engine = create_async_engine(url)
    try:
        yield engine, build_session_factory(engine)
    finally:
        await engine.dispose()


async def add_deliveries(
    engine: AsyncEngine, endpoint_id: str, status: str, count: int, *, age_days: float
) -> None:
    """`count` deliveries of the endpoint in `status`, last changed `age_days` ago."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload,"
                " status, attempts, step, next_attempt_at, created_at, updated_at)"
                " SELECT gen_random_uuid(), CAST(:endpoint AS uuid), :status || '-' || n,"
                " 'movement.created', '{}', :status, 1, 0,"
                " CASE WHEN :status = 'pending' THEN now() + interval '1 hour' END,"
                " now() - make_interval(secs => :age), now() - make_interval(secs => :age)"
                " FROM generate_series(1, :count) AS n"
            ),
            {"endpoint": endpoint_id, "status": status, "count": count, "age": age_days * 86_400},
        )


async def statuses(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
        )
        return {row[0]: int(row[1]) for row in rows}


async def test_the_delivery_purge_drains_every_batch_in_one_pass(shop: ShopFactory) -> None:
    s = await shop(**QUIET)
    endpoint = await s.hook("http://127.0.0.1:9/hook")
    async with database(s.database_url) as (engine, factory):
        await add_deliveries(engine, endpoint["id"], "delivered", 5, age_days=2)
        await add_deliveries(engine, endpoint["id"], "failed", 3, age_days=2)

        # Batches of 3: eight deliveries take three batches, all in this one call.
        purged = await purge_finished_deliveries(factory, 1, batch=3)

        assert purged == 8
        assert await statuses(engine) == {}


async def test_the_delivery_purge_keeps_pending_deliveries_however_old(shop: ShopFactory) -> None:
    s = await shop(**QUIET)
    endpoint = await s.hook("http://127.0.0.1:9/hook")
    async with database(s.database_url) as (engine, factory):
        await add_deliveries(engine, endpoint["id"], "pending", 4, age_days=9)
        await add_deliveries(engine, endpoint["id"], "delivered", 4, age_days=2)

        assert await purge_finished_deliveries(factory, 1, batch=2) == 4
        assert await statuses(engine) == {"pending": 4}
        assert len(await s.deliveries(endpoint)) == 4


async def test_the_delivery_purge_keeps_finished_deliveries_within_retention(
    shop: ShopFactory,
) -> None:
    s = await shop(**QUIET)
    endpoint = await s.hook("http://127.0.0.1:9/hook")
    async with database(s.database_url) as (engine, factory):
        await add_deliveries(engine, endpoint["id"], "delivered", 3, age_days=0.5)
        await add_deliveries(engine, endpoint["id"], "failed", 2, age_days=0.5)

        assert await purge_finished_deliveries(factory, 1, batch=2) == 0
        assert await statuses(engine) == {"delivered": 3, "failed": 2}


async def overdue_levels(s: Shop, engine: AsyncEngine, count: int) -> list[dict[str, Any]]:
    """`count` locations, each holding a reservation of 2 (of 5 on hand) now overdue, the
    soonest expiry first; the reservations, in that order."""
    held = []
    for _ in range(count):
        location = await new_location(s.client, s.admin)
        await receive(s.client, s.clerk, s.product, location, 5)
        response = await reserve(s.client, s.clerk, s.product, location, 2)
        assert response.status_code == 201, response.text
        held.append({**response.json(), "location": location})
    async with engine.begin() as connection:
        for n, reservation in enumerate(held):
            await connection.execute(
                text(
                    "UPDATE reservations SET expires_at = now() - make_interval(secs => :ago)"
                    " WHERE id = CAST(:id AS uuid)"
                ),
                {"id": reservation["id"], "ago": 100 - n},
            )
    return held


async def status_of(s: Shop, reservation: dict[str, Any]) -> str:
    response = await s.client.get(
        f"/api/v1/stock/reservations/{reservation['id']}", headers=s.clerk
    )
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def expired_events(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM events WHERE type = 'reservation.expired'")
        )
    return int(count or 0)


async def event_actors(engine: AsyncEngine, type_: str) -> list[Any]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT actor FROM events WHERE type = :type ORDER BY seq"), {"type": type_}
        )
    return [row.actor for row in rows]


async def test_the_sweeper_expires_every_overdue_level_in_one_pass(shop: ShopFactory) -> None:
    s = await shop(**QUIET)
    async with database(s.database_url) as (engine, factory):
        held = await overdue_levels(s, engine, 5)

        # Batches of 2 levels: five levels take three batches, all in this one call.
        assert await expire_overdue_reservations(factory, batch=2) == 5

        assert [await status_of(s, r) for r in held] == ["expired"] * 5
        for reservation in held:
            shown = await level(s.client, s.clerk, s.product, reservation["location"])
            assert (shown["on_hand"], shown["reserved"], shown["available"]) == (5, 0, 5)
        assert await expired_events(engine) == 5
        # No one asked for these expiries: their events name no actor; the reservations
        # still name who made them.
        assert await event_actors(engine, "reservation.expired") == [None] * 5
        made = await event_actors(engine, "reservation.created")
        assert [actor and actor["type"] for actor in made] == ["user"] * 5


async def test_the_sweeper_leaves_reservations_that_still_hold(shop: ShopFactory) -> None:
    s = await shop(**QUIET)
    async with database(s.database_url) as (engine, factory):
        held = await overdue_levels(s, engine, 3)
        location = held[0]["location"]
        live = await reserve(s.client, s.clerk, s.product, location, 1)
        assert live.status_code == 201, live.text

        assert await expire_overdue_reservations(factory, batch=1) == 3

        assert await status_of(s, live.json()) == "active"
        shown = await level(s.client, s.clerk, s.product, location)
        assert (shown["reserved"], shown["available"]) == (1, 4)
        assert await expire_overdue_reservations(factory, batch=1) == 0
        assert await expired_events(engine) == 3


async def test_the_sweeper_skips_a_level_another_transaction_holds_and_ends(
    shop: ShopFactory,
) -> None:
    s = await shop(**QUIET)
    async with database(s.database_url) as (engine, factory):
        held = await overdue_levels(s, engine, 3)
        busy = held[0]  # the soonest: the head of every batch unless skipped
        async with engine.connect() as holder:
            await holder.execute(
                text(
                    "SELECT 1 FROM stock_levels WHERE product_id = CAST(:p AS uuid)"
                    " AND location_id = CAST(:l AS uuid) FOR UPDATE"
                ),
                {"p": s.product["id"], "l": busy["location"]["id"]},
            )
            # Batches of one level: the held level is skipped once, not retried forever.
            done = await asyncio.wait_for(expire_overdue_reservations(factory, batch=1), 10)
            assert done == 2
            assert [await status_of(s, r) for r in held] == ["active", "expired", "expired"]
            await holder.rollback()

        # Its turn comes at the next sweep.
        assert await expire_overdue_reservations(factory, batch=1) == 1
        assert await status_of(s, busy) == "expired"


async def test_a_level_with_many_overdue_reservations_does_not_end_the_pass(
    shop: ShopFactory,
) -> None:
    s = await shop(**QUIET)
    async with database(s.database_url) as (engine, factory):
        crowded = await new_location(s.client, s.admin)
        alone = await new_location(s.client, s.admin)
        await receive(s.client, s.clerk, s.product, crowded, 30)
        await receive(s.client, s.clerk, s.product, alone, 5)
        # The sweep looks at the soonest 10 reservations per level of its batch: 25 on one
        # level fill a batch of 2 with that level alone, and the other level comes later.
        for _ in range(25):
            assert (await reserve(s.client, s.clerk, s.product, crowded, 1)).status_code == 201
        last = (await reserve(s.client, s.clerk, s.product, alone, 2)).json()
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE reservations SET expires_at = now() - make_interval(secs => "
                    "CASE WHEN location_id = CAST(:alone AS uuid) THEN 1 ELSE 100 END)"
                ),
                {"alone": alone["id"]},
            )

        assert await expire_overdue_reservations(factory, batch=2) == 2

        assert await status_of(s, last) == "expired"
        assert (await level(s.client, s.clerk, s.product, crowded))["reserved"] == 0
        assert await expired_events(engine) == 26
