"""The late commit: a posting whose transaction began first commits last. Every consumer of
the feed (a live `/events/stream`, a `/stock/events` client that resumes after whichever
movement it saw first, a poller of `GET /events`) ends with both movements, once each, in
the same order. Resuming by insert time (`created_at`) lost the late one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import create_async_engine

from src.core import migrations
from src.main import create_app
from src.models.user import Role
from tests.support.databases import TestServer
from tests.support.factories import Headers, create_user, login_headers
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.sse import (
    FEED_STREAM,
    STOCK_STREAM,
    holds,
    install_hold_trigger,
    sse,
)
from tests.support.stock import new_location, new_product, post_movement

Product = dict[str, Any] | None
FEED = "/api/v1/events"
LOCATIONS = 6


@pytest.fixture(scope="module")
def held_url(pg_server: TestServer) -> Iterator[str]:
    with pg_server.fresh_database("stockroom_late_commit") as url:
        migrations.upgrade(url)
        asyncio.run(install_hold_trigger(url))
        yield url


@dataclass
class Shop:
    base: str
    client: httpx.AsyncClient
    clerk: Headers
    manager: Headers
    product: dict[str, Any]
    locations: list[dict[str, Any]]


@pytest.fixture
async def shop(held_url: str, tmp_path: Path) -> AsyncIterator[Shop]:
    app = create_app(make_settings(held_url, tmp_path, events_poll_seconds=0.2))
    engine = create_async_engine(held_url)
    try:
        async with engine.begin() as connection:
            clerk_user = await create_user(connection, role=Role.CLERK)
            manager_user = await create_user(connection, role=Role.MANAGER)
    finally:
        await engine.dispose()
    async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
        clerk = await login_headers(client, clerk_user)
        manager = await login_headers(client, manager_user)
        product = await new_product(client, manager)
        locations = [await new_location(client, manager) for _ in range(LOCATIONS)]
        yield Shop(base, client, clerk, manager, product, locations)


async def head(shop: Shop) -> str:
    """The feed's current end, to poll after."""
    after: str | None = None
    while True:
        params = {
            "limit": "100",
            "types": "movement.created",
            **({"after": after} if after else {}),
        }
        body = (await shop.client.get(FEED, params=params, headers=shop.clerk)).json()
        after = body["next_cursor"]
        if not body["items"]:
            assert after is not None
            return after


async def poll(shop: Shop, after: str, count: int, product: Product = None) -> list[str]:
    """Movement ids from `GET /events` after `after` until `count` of this shop's arrived."""
    seen: list[str] = []
    async with asyncio.timeout(60):
        while len(seen) < count:
            params = {"after": after, "types": "movement.created", "limit": "100"}
            response = await shop.client.get(FEED, params=params, headers=shop.clerk)
            assert response.status_code == 200, response.text
            body = response.json()
            seen += [
                i["data"]["id"]
                for i in body["items"]
                if i["data"]["product_id"] == (product or shop.product)["id"]
            ]
            after = body["next_cursor"]
            await asyncio.sleep(0.05)
    return seen


def ours(shop: Shop, product: Product = None) -> Any:
    def keep(event: dict[str, Any]) -> bool:
        data = event["data"]
        movement = data["data"] if "type" in data else data
        return bool(movement["product_id"] == (product or shop.product)["id"])

    return keep


async def post(
    shop: Shop, location: int, reference: str | None = None, product: Product = None
) -> dict[str, Any]:
    extra = {"reference": reference} if reference else {}
    response = await post_movement(
        shop.client,
        shop.clerk,
        product or shop.product,
        shop.locations[location],
        "receipt",
        1,
        **extra,
    )
    assert response.status_code == 201, response.text
    movement: dict[str, Any] = response.json()
    return movement


async def test_a_late_commit_reaches_every_consumer_once_and_in_order(
    shop: Shop, held_url: str
) -> None:
    start = await head(shop)
    late_ref = f"hold-{uuid.uuid4().hex[:12]}"
    async with (
        sse(shop.base, FEED_STREAM, shop.clerk, types="movement.created") as live,
        sse(shop.base, STOCK_STREAM, shop.clerk) as stock,
        holds(held_url) as lock,
    ):
        await lock.hold(late_ref)
        # The late posting begins first and stops after its insert, its transaction open.
        late = asyncio.create_task(post(shop, 0, late_ref))
        await lock.until_waiting(1)
        early = await post(shop, 1)  # begins second, commits first
        await asyncio.sleep(0.5)  # streams and pollers had every chance to see it alone
        await lock.release(late_ref)
        late_movement = await late
        expected = [late_movement["id"], early["id"]]  # the feed's order: by transaction

        got_live = [e["data"]["data"]["id"] for e in await live.collect(2, ours(shop))]
        first_seen = (await stock.collect(1, ours(shop)))[0]
    # The /stock/events client leaves after its first movement and resumes with its id.
    async with sse(
        shop.base, STOCK_STREAM, {**shop.clerk, "Last-Event-ID": first_seen["id"]}
    ) as again:
        rest = await again.collect(1, ours(shop))
        with pytest.raises(TimeoutError):  # and nothing twice
            await again.collect(1, ours(shop), wait=1)
    got_resumed = [first_seen["id"], rest[0]["id"]]
    got_polled = await poll(shop, start, 2)

    assert got_live == expected
    assert got_resumed == expected
    assert got_polled == expected


# Postings: whether each is held open after its insert, and how long before its release.
postings = st.lists(st.tuples(st.booleans(), st.floats(0, 0.2)), min_size=2, max_size=LOCATIONS)


@pytest.mark.slow
@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=postings, cut=st.integers(1, LOCATIONS))
async def test_concurrent_postings_reach_every_consumer_once_in_one_order(
    shop: Shop, held_url: str, plan: list[tuple[bool, float]], cut: int
) -> None:
    """Postings on connections of their own, some held open after their insert and released
    in a random order after random delays: a live stream, a /stock/events client that leaves
    after `cut` movements and resumes, and a poller each get exactly the committed ones, in
    one order, none twice."""
    product = await new_product(shop.client, shop.manager)
    cut = min(cut, len(plan) - 1)
    start = await head(shop)
    tag = uuid.uuid4().hex[:8]
    references = [f"{'hold' if held else 'free'}-{tag}-{i}" for i, (held, _) in enumerate(plan)]
    held = [(r, delay) for r, (h, delay) in zip(references, plan, strict=True) if h]
    keep = ours(shop, product)
    async with (
        sse(shop.base, FEED_STREAM, shop.clerk, types="movement.created") as live,
        sse(shop.base, STOCK_STREAM, shop.clerk) as stock,
        holds(held_url) as lock,
    ):
        for reference, _ in held:
            await lock.hold(reference)
        tasks = [
            asyncio.create_task(post(shop, i, reference, product))
            for i, reference in enumerate(references)
        ]
        await lock.until_waiting(len(held))
        for reference, delay in sorted(held, key=lambda h: h[1]):
            await asyncio.sleep(delay)
            await lock.release(reference)
        committed = {m["id"] for m in await asyncio.gather(*tasks)}

        got_live = [e["data"]["data"]["id"] for e in await live.collect(len(plan), keep)]
        before_leaving = [e["id"] for e in await stock.collect(cut, keep)]
    resumed = {**shop.clerk, "Last-Event-ID": before_leaving[-1]}
    async with sse(shop.base, STOCK_STREAM, resumed) as again:
        after_return = [e["id"] for e in await again.collect(len(plan) - cut, keep)]
        with pytest.raises(TimeoutError):
            await again.collect(1, keep, wait=0.3)
    got_polled = await poll(shop, start, len(plan), product)

    assert set(got_live) == committed
    assert len(got_live) == len(committed)
    assert before_leaving + after_return == got_live
    assert got_polled == got_live
