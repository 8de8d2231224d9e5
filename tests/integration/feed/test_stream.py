"""GET /api/v1/events/stream: the change feed as Server-Sent Events, live or resumed, and
what it refuses before it starts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.main import create_app
from src.models.user import Role
from src.services.feed import POSITION_SCOPE
from tests.support.factories import CommittedLogin, Headers, create_user, login_headers
from tests.support.feed import append_committed, head, settle
from tests.support.servers import running, served
from tests.support.settings import TEST_SECRET_KEY, make_settings
from tests.support.sse import FEED_STREAM, STOCK_STREAM, sse
from tests.support.stock import new_location, new_product, receive

FEED = "/api/v1/events"


@pytest.fixture
async def people(committed_login: CommittedLogin) -> tuple[Headers, Headers]:
    """A viewer and a manager (the least role reads the streams): (viewer, manager)."""
    return await committed_login(Role.VIEWER), await committed_login(Role.MANAGER)


def about(product: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Events of the feed stream about this product (the product's own, its movements)."""

    def keep(event: dict[str, Any]) -> bool:
        data = event["data"]["data"]
        return product["id"] in (data.get("id"), data.get("product_id"))

    return keep


async def feed_ids(
    client: httpx.AsyncClient, headers: Headers, after: str, product: dict[str, Any]
) -> list[dict[str, Any]]:
    body = (await client.get(FEED, params={"after": after, "limit": 100}, headers=headers)).json()
    keep = about(product)
    return [item for item in body["items"] if keep({"data": item})]


async def test_the_stream_sends_each_event_as_the_feed_lists_it(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    viewer, manager = people
    start = await head(committed_client, viewer)
    app = create_app(make_settings(committed_database_url, tmp_path))
    async with running(app) as base, sse(base, FEED_STREAM, viewer) as live:
        product = await new_product(committed_client, manager)
        location = await new_location(committed_client, manager)
        movement = await receive(committed_client, manager, product, location, 4)
        streamed = await live.collect(2, about(product))
    assert [e["event"] for e in streamed] == ["product.created", "movement.created"]
    assert streamed[1]["data"]["data"] == movement
    for event in streamed:
        assert event["id"] == event["data"]["id"]
    # Exactly the items GET /events lists, ids included: one id resumes either.
    assert [e["data"] for e in streamed] == await feed_ids(committed_client, viewer, start, product)


async def test_after_or_last_event_id_resume_exactly_after_that_event(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    viewer, manager = people
    start = await head(committed_client, viewer)
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    posted = [await receive(committed_client, manager, product, location, 1) for _ in range(3)]
    listed = [
        i
        for i in await feed_ids(committed_client, viewer, start, product)
        if i["type"] == "movement.created"
    ]
    assert [i["data"]["id"] for i in listed] == [m["id"] for m in posted]
    app = create_app(make_settings(committed_database_url, tmp_path))
    only_movements = {"types": "movement.created"}
    async with running(app) as base:
        async with sse(base, FEED_STREAM, viewer, after=listed[0]["id"], **only_movements) as s:
            assert [e["id"] for e in await s.collect(2, about(product))] == [
                i["id"] for i in listed[1:]
            ]
        # Last-Event-ID (sent by a reconnecting EventSource) wins over the URL's `after`.
        resumed = {**viewer, "Last-Event-ID": listed[1]["id"]}
        async with sse(base, FEED_STREAM, resumed, after=listed[0]["id"], **only_movements) as s:
            assert (await s.first(about(product)))["id"] == listed[2]["id"]
            live = await receive(committed_client, manager, product, location, 1)
            event = await s.first(about(product))
            assert event["data"]["data"]["id"] == live["id"]  # no gap, no repeat


async def test_types_keep_only_those_events(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    viewer, manager = people
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    app = create_app(make_settings(committed_database_url, tmp_path))
    async with running(app) as base, sse(base, FEED_STREAM, viewer, types="product.created") as s:
        await receive(committed_client, manager, product, location, 1)
        other = await new_product(committed_client, manager)
        received = [await s.next()]
        while received[-1]["data"]["data"]["id"] != other["id"]:
            received.append(await s.next())
    assert {e["event"] for e in received} == {"product.created"}


async def test_what_the_streams_refuse_before_they_start(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    viewer, _manager = people
    products = (await committed_client.get("/api/v1/products?limit=1", headers=viewer)).json()
    foreign = [
        "not-an-event",
        products["next_cursor"] or "x",  # a list's cursor: ours, but no position
        CursorCodec("another-servers-key-0123456789abcdef").encode(POSITION_SCOPE, [1, 2]),
        CursorCodec(TEST_SECRET_KEY).encode(POSITION_SCOPE, ["1", 2]),
    ]
    app = create_app(make_settings(committed_database_url, tmp_path, sse_max_streams_per_user=1))
    async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get(FEED_STREAM)).status_code == 401
        bad_token = await client.get(FEED_STREAM, headers={"Authorization": "Bearer nope"})
        assert bad_token.status_code == 401
        for value in foreign:
            for refused in (
                await client.get(FEED_STREAM, params={"after": value}, headers=viewer),
                await client.get(FEED_STREAM, headers={**viewer, "Last-Event-ID": value}),
            ):
                assert refused.status_code == 400, value
                assert refused.json()["type"] == "/problems/malformed-request"
                assert value not in refused.text
        stock = await client.get(STOCK_STREAM, headers={**viewer, "Last-Event-ID": "nope"})
        assert stock.status_code == 400
        for params, loc in [
            ({"types": "product.exploded"}, ["query", "types", 0]),
            ({"limit": "5"}, ["query", "limit"]),
            ({"cursor": "x"}, ["query", "cursor"]),
        ]:
            response = await client.get(FEED_STREAM, params=params, headers=viewer)
            assert response.status_code == 422
            assert [e["loc"] for e in response.json()["errors"]] == [loc]
        # Refusals held no slot; the per-user cap is shared by both streams.
        assert app.state.broker.stream_count == 0
        async with sse(base, STOCK_STREAM, viewer):
            capped = await client.get(FEED_STREAM, headers=viewer)
            assert capped.status_code == 429
            assert capped.json()["type"] == "/problems/rate-limited"
            assert capped.headers["retry-after"]
        async with sse(base, FEED_STREAM, viewer):
            assert (await client.get(STOCK_STREAM, headers=viewer)).status_code == 429
            assert app.state.broker.stream_count == 1


async def test_a_position_older_than_retention_is_410(
    own_database_url: str, tmp_path: Path
) -> None:
    engine = create_async_engine(own_database_url)
    app = create_app(make_settings(own_database_url, tmp_path))
    try:
        async with engine.begin() as connection:
            user = await create_user(connection, role=Role.VIEWER)
        async with running(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
            viewer = await login_headers(c, user)
            beginning = (await c.get(FEED, headers=viewer)).json()["next_cursor"]
            for n in range(2):
                await append_committed(engine, (EventType.PRODUCT_UPDATED, {"name": f"old-{n}"}))
            await settle(engine)
            old = (await c.get(FEED, headers=viewer)).json()["items"]
            async with engine.begin() as connection:  # the first one purged, as retention does
                await connection.execute(
                    text(
                        "WITH gone AS (DELETE FROM events WHERE seq = (SELECT min(seq) FROM"
                        " events) RETURNING xid, seq) INSERT INTO event_watermark"
                        " (singleton, xid, seq) SELECT true, xid, seq FROM gone"
                    )
                )
            for expired in (
                await c.get(FEED_STREAM, params={"after": beginning}, headers=viewer),
                await c.get(FEED_STREAM, headers={**viewer, "Last-Event-ID": beginning}),
            ):
                assert expired.status_code == 410
                assert expired.json()["type"] == "/problems/cursor-expired"
            assert app.state.broker.stream_count == 0
            # After the purged event itself nothing is missing: the stream goes on from there.
            async with sse(base, FEED_STREAM, viewer, after=old[0]["id"]) as s:
                assert (await s.next())["data"] == old[1]
    finally:
        await engine.dispose()


@pytest.mark.server
@pytest.mark.slow
async def test_a_posting_through_one_serve_process_reaches_both_streams_on_both(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    viewer, manager = people
    product = await new_product(committed_client, manager)
    location = await new_location(committed_client, manager)
    async with (
        served(committed_database_url, tmp_path / "a", TEST_SECRET_KEY) as a,
        served(committed_database_url, tmp_path / "b", TEST_SECRET_KEY) as b,
        sse(a.base, FEED_STREAM, viewer, types="movement.created") as feed_a,
        sse(b.base, FEED_STREAM, viewer, types="movement.created") as feed_b,
        sse(a.base, STOCK_STREAM, viewer) as stock_a,
        sse(b.base, STOCK_STREAM, viewer) as stock_b,
        httpx.AsyncClient(base_url=a.base, timeout=30) as through_a,
    ):
        movement = await receive(through_a, manager, product, location, 2)
        for feed in (feed_a, feed_b):
            event = await feed.first(about(product))
            assert event["data"]["data"] == movement
        for stock in (stock_a, stock_b):
            event = await stock.first(lambda e: e["data"]["product_id"] == product["id"])
            assert event["event"] == "movement"
            assert event["id"] == movement["id"]
            assert event["data"] == movement


async def test_an_event_held_back_and_never_notified_still_arrives(
    committed_database_url: str,
    committed_engine: Any,
    tmp_path: Path,
    people: tuple[Headers, Headers],
) -> None:
    """No NOTIFY ever comes for it (as if lost), and it was invisible when written: the
    process's visibility check wakes the stream once the older transaction ends."""
    viewer, _ = people
    name = f"quiet-{uuid.uuid4().hex}"
    app = create_app(make_settings(committed_database_url, tmp_path, events_poll_seconds=0.1))
    async with (
        running(app) as base,
        sse(base, FEED_STREAM, viewer, types="product.updated") as stream,
        committed_engine.connect() as older,
    ):
        await older.begin()
        await older.execute(text("SELECT pg_current_xact_id()"))  # began first, still runs
        await append_committed(committed_engine, (EventType.PRODUCT_UPDATED, {"name": name}))
        arrival = asyncio.create_task(
            stream.collect(1, lambda e: e["data"]["data"].get("name") == name)
        )
        await asyncio.sleep(0.6)
        assert not arrival.done()  # held back
        await older.rollback()
        (event,) = await asyncio.wait_for(arrival, 10)
    assert event["event"] == "product.updated"
