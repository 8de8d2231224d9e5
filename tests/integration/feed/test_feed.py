"""GET /api/v1/events over HTTP, on a database of its own with really committed events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.models.user import Role
from src.services.feed import POSITION_SCOPE
from tests.support.apps import serving
from tests.support.factories import Headers, committed_headers
from tests.support.feed import append, append_committed, eventually, head, settle
from tests.support.metrics import sample
from tests.support.settings import TEST_SECRET_KEY

EVENTS = "/api/v1/events"
LAG = "stockroom_event_feed_lag_seconds"


@pytest.fixture
async def client(feed_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(feed_url, tmp_path) as client:
        yield client


@pytest.fixture
async def viewer(feed_engine: AsyncEngine, client: httpx.AsyncClient) -> Headers:
    return await committed_headers(feed_engine, client, Role.VIEWER)


def _product(tag: str, n: int) -> tuple[str, dict[str, object]]:
    return (EventType.PRODUCT_UPDATED, {"name": f"{tag}-{n}"})


async def _get(client: httpx.AsyncClient, headers: Headers, **params: Any) -> httpx.Response:
    return await client.get(EVENTS, params=params, headers=headers)


async def test_polling_pages_through_every_event_once_then_waits_for_new_ones(
    client: httpx.AsyncClient, viewer: Headers, feed_engine: AsyncEngine
) -> None:
    start = await head(client, viewer)
    tag = uuid.uuid4().hex
    for n in range(7):  # seven transactions, seven positions
        await append_committed(feed_engine, _product(tag, n))
    await settle(feed_engine)

    names: list[str] = []
    after = start
    sizes = []
    while True:
        response = await _get(client, viewer, after=after, limit=3)
        assert response.status_code == 200
        body = response.json()
        sizes.append(len(body["items"]))
        names += [item["data"]["name"] for item in body["items"]]
        assert body["next_cursor"]  # present on every page, the last one included
        if not body["items"]:
            assert body["next_cursor"] == after  # nothing new: ask again with the same
            break
        assert body["next_cursor"] == body["items"][-1]["id"]
        after = body["next_cursor"]
    assert sizes == [3, 3, 1, 0]
    assert names == [f"{tag}-{n}" for n in range(7)]

    # A poller asking again gets exactly what happened since.
    await append_committed(feed_engine, (EventType.LOCATION_CREATED, {"name": f"{tag}-new"}))
    await settle(feed_engine)
    body = (await _get(client, viewer, after=after)).json()
    assert [(i["type"], i["data"]) for i in body["items"]] == [
        ("location.created", {"name": f"{tag}-new"})
    ]
    assert set(body["items"][0]) == {"id", "type", "occurred_at", "actor", "data"}
    assert body["items"][0]["actor"] is None  # appended by no one


async def test_types_filter_comma_separated_or_repeated(
    client: httpx.AsyncClient, viewer: Headers, feed_engine: AsyncEngine
) -> None:
    start = await head(client, viewer)
    tag = uuid.uuid4().hex
    await append_committed(
        feed_engine,
        (EventType.PRODUCT_CREATED, {"name": f"{tag}-p"}),
        (EventType.LOCATION_ARCHIVED, {"name": f"{tag}-l"}),
        (EventType.MOVEMENT_CREATED, {"id": str(uuid.uuid4()), "name": f"{tag}-m"}),
    )
    await settle(feed_engine)
    comma = await _get(client, viewer, after=start, types="movement.created,product.created")
    repeated = await client.get(
        EVENTS,
        params=[("after", start), ("types", "movement.created"), ("types", "product.created")],
        headers=viewer,
    )
    for response in (comma, repeated):
        assert response.status_code == 200
        assert [i["data"]["name"] for i in response.json()["items"]] == [f"{tag}-p", f"{tag}-m"]
    # A filtered page that found nothing still hands back a cursor to poll with: after the
    # last event it scanned (see feed/test_feed_positions.py).
    none = (await _get(client, viewer, after=start, types="level.below_reorder")).json()
    codec = CursorCodec(TEST_SECRET_KEY)
    assert none["items"] == []
    end = await head(client, viewer)
    assert codec.decode(POSITION_SCOPE, none["next_cursor"]) == codec.decode(POSITION_SCOPE, end)


async def test_without_after_the_feed_starts_at_the_oldest_event(
    client: httpx.AsyncClient, viewer: Headers, feed_engine: AsyncEngine
) -> None:
    await append_committed(feed_engine, _product(uuid.uuid4().hex, 0))
    await settle(feed_engine)
    async with feed_engine.connect() as connection:
        oldest = (
            await connection.execute(text("SELECT type, data FROM events ORDER BY xid, seq"))
        ).first()
    assert oldest is not None
    body = (await _get(client, viewer, limit=1)).json()
    assert [(i["type"], i["data"]) for i in body["items"]] == [(oldest.type, oldest.data)]


async def test_an_after_the_server_did_not_issue_is_400(
    client: httpx.AsyncClient, viewer: Headers
) -> None:
    codec = CursorCodec(TEST_SECRET_KEY)
    genuine = await head(client, viewer)
    foreign = [
        "not-a-position",
        genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),  # tampered
        codec.encode("products:created_at", ["2026-01-01T00:00:00+00:00", str(uuid.uuid4())]),
        codec.encode(POSITION_SCOPE, ["1", 2]),  # signed, but not a position's values
        CursorCodec("another-servers-key-0123456789abcdef").encode(POSITION_SCOPE, [1, 2]),
    ]
    for after in foreign:
        response = await _get(client, viewer, after=after)
        assert response.status_code == 400, after
        assert response.json()["type"].endswith("/problems/malformed-request")
        assert after not in response.text


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"types": "product.exploded"}, ["query", "types", 0]),
        ({"types": "movement.created,nope"}, ["query", "types", 0]),
        ({"types": "movement.created,"}, ["query", "types", 0]),
        ({"cursor": "x"}, ["query", "cursor"]),
        ({"limit": "0"}, ["query", "limit"]),
        ({"limit": "101"}, ["query", "limit"]),
    ],
)
async def test_bad_query_parameters_are_422_naming_them(
    client: httpx.AsyncClient, viewer: Headers, params: dict[str, str], loc: list[object]
) -> None:
    response = await _get(client, viewer, **params)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [loc]


async def test_the_feed_needs_a_valid_token(
    client: httpx.AsyncClient, feed_engine: AsyncEngine
) -> None:
    assert (await client.get(EVENTS)).status_code == 401
    bad = await client.get(EVENTS, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith("Bearer")
    for role in (Role.CLERK, Role.ADMIN):
        ok = await client.get(EVENTS, headers=await committed_headers(feed_engine, client, role))
        assert ok.status_code == 200


async def test_an_after_older_than_retention_is_410(own_database_url: str, tmp_path: Path) -> None:
    engine = create_async_engine(own_database_url)
    try:
        await _expire_and_check(own_database_url, engine, tmp_path)
    finally:
        await engine.dispose()


async def _expire_and_check(url: str, engine: AsyncEngine, tmp_path: Path) -> None:
    async with serving(url, tmp_path) as client:
        viewer = await committed_headers(engine, client, Role.VIEWER)
        empty = (await _get(client, viewer)).json()
        assert empty["items"] == []
        beginning = empty["next_cursor"]  # an empty feed's start: still a cursor to poll
        assert (await _get(client, viewer, after=beginning)).json()["items"] == []
        await append_committed(engine, _product("old", 0), _product("old", 1))
        await settle(engine)
        old = (await _get(client, viewer, after=beginning)).json()["items"]
        assert [i["data"]["name"] for i in old] == ["old-0", "old-1"]

    # Retention a tenth of a second: the app's purge deletes both.
    async with serving(
        url, tmp_path, events_retention_days=0.1 / 86_400, events_purge_interval_seconds=0.05
    ):

        async def all_purged() -> bool:
            return await _count(engine) == 0

        assert await eventually(all_purged)

    async with serving(url, tmp_path) as client:
        await append_committed(engine, _product("new", 0))
        await settle(engine)

        expired = await _get(client, viewer, after=beginning)
        assert expired.status_code == 410
        assert expired.json()["type"].endswith("/problems/cursor-expired")
        assert (await _get(client, viewer, after=old[0]["id"])).status_code == 410
        # After the last purged event nothing is missing: the feed goes on from there.
        latest = await _get(client, viewer, after=old[-1]["id"])
        assert latest.status_code == 200
        assert [i["data"]["name"] for i in latest.json()["items"]] == ["new-0"]
        fresh = (await _get(client, viewer)).json()
        assert [i["data"]["name"] for i in fresh["items"]] == ["new-0"]


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM events")) or 0)


async def _lag(client: httpx.AsyncClient, until: Callable[[float], bool]) -> float:
    """The lag gauge, polled until `until(value)` holds (or the catch-up time runs out)."""
    seen: list[float] = []

    async def holds() -> bool:
        seen.append(sample((await client.get("/metrics")).text, LAG))
        return until(seen[-1])

    await eventually(holds)
    return seen[-1]


async def test_the_lag_metric_shows_an_open_transaction_holding_the_feed_back(
    feed_url: str, feed_engine: AsyncEngine, tmp_path: Path
) -> None:
    await append_committed(feed_engine, _product("before", 0))
    await settle(feed_engine)
    async with serving(feed_url, tmp_path, events_lag_interval_seconds=0.05) as client:
        assert f"# TYPE {LAG} gauge" in (await client.get("/metrics")).text
        assert await _lag(client, lambda v: v == 0) == 0
        async with feed_engine.connect() as held:
            await held.begin()
            await append(held, EventType.PRODUCT_UPDATED, {"name": "held"})
            await asyncio.sleep(0.3)
            await append_committed(feed_engine, _product("behind", 0))  # committed, yet held
            assert await _lag(client, lambda v: v >= 0.3) >= 0.3
            await held.commit()
        assert await _lag(client, lambda v: v == 0) == 0


async def test_an_event_is_sent_as_the_write_answered_it(
    feed_engine: AsyncEngine, client: httpx.AsyncClient, viewer: Headers
) -> None:
    """The page embeds each event's stored JSON as is: it must still read as the write's
    own response did, with the API's datetime format (UTC, `Z`)."""
    manager = await committed_headers(feed_engine, client, Role.MANAGER)
    after = await head(client, viewer)
    tag = uuid.uuid4().hex[:8]
    product = await client.post(
        "/api/v1/products",
        json={"sku": f"FEED-{tag}", "name": f"Feed {tag}", "unit": "each"},
        headers=manager,
    )
    location = await client.post(
        "/api/v1/locations", json={"code": f"F-{tag}", "name": f"Feed {tag}"}, headers=manager
    )
    assert product.status_code == location.status_code == 201, (product.text, location.text)
    movement = await client.post(
        "/api/v1/stock/movements",
        json={
            "product_id": product.json()["id"],
            "location_id": location.json()["id"],
            "kind": "receipt",
            "quantity": 5,
        },
        headers=manager,
    )
    assert movement.status_code == 201, movement.text
    await settle(feed_engine)

    response = await _get(client, viewer, after=after)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    items = response.json()["items"]
    assert [(i["type"], i["data"]) for i in items] == [
        ("product.created", product.json()),
        ("location.created", location.json()),
        ("movement.created", movement.json()),
    ]
    for item in items:
        assert item["occurred_at"].endswith("Z"), item
        assert item["occurred_at"][:19] <= movement.json()["created_at"][:19]
