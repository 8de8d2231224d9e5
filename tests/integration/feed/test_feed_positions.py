"""GET /api/v1/events: where a poller starts (`start=latest`) and where a filtered page
leaves it (after the last event scanned, not the last one matched)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.cursors import CursorCodec
from src.core.event_types import EventType
from src.models.user import Role
from src.services.feed import POSITION_SCOPE
from tests.support.apps import serving
from tests.support.factories import Headers, committed_headers
from tests.support.feed import append_committed, head, settle
from tests.support.settings import TEST_SECRET_KEY

EVENTS = "/api/v1/events"


@pytest.fixture
async def client(feed_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(feed_url, tmp_path) as client:
        yield client


@pytest.fixture
async def viewer(feed_engine: AsyncEngine, client: httpx.AsyncClient) -> Headers:
    return await committed_headers(feed_engine, client, Role.VIEWER)


async def _get(client: httpx.AsyncClient, headers: Headers, **params: Any) -> httpx.Response:
    return await client.get(EVENTS, params=params, headers=headers)


def _position(cursor: str) -> list[Any]:
    return CursorCodec(TEST_SECRET_KEY).decode(POSITION_SCOPE, cursor)


# ---------------------------------------------------------------- start=latest


async def test_start_latest_answers_no_events_and_a_cursor_at_the_end(
    client: httpx.AsyncClient, viewer: Headers, feed_engine: AsyncEngine
) -> None:
    tag = uuid.uuid4().hex
    await append_committed(feed_engine, (EventType.PRODUCT_UPDATED, {"name": f"{tag}-old"}))
    await settle(feed_engine)
    response = await _get(client, viewer, start="latest")
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == []
    # The same end a poller reaches by paging through the whole feed.
    assert _position(body["next_cursor"]) == _position(await head(client, viewer))
    # Polling from it gets only what happens next.
    await append_committed(feed_engine, (EventType.PRODUCT_UPDATED, {"name": f"{tag}-new"}))
    await settle(feed_engine)
    after = (await _get(client, viewer, after=body["next_cursor"])).json()
    assert [i["data"]["name"] for i in after["items"]] == [f"{tag}-new"]


async def test_start_earliest_is_the_default(
    client: httpx.AsyncClient, viewer: Headers, feed_engine: AsyncEngine
) -> None:
    await append_committed(feed_engine, (EventType.PRODUCT_UPDATED, {"name": "x"}))
    await settle(feed_engine)
    default = (await _get(client, viewer, limit=3)).json()
    earliest = (await _get(client, viewer, limit=3, start="earliest")).json()
    assert default == earliest
    assert len(default["items"]) == 3


@pytest.mark.parametrize("start", ["now", "LATEST", ""])
async def test_an_unknown_start_is_422_naming_it(
    client: httpx.AsyncClient, viewer: Headers, start: str
) -> None:
    response = await _get(client, viewer, start=start)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "start"]]


async def test_start_latest_with_after_is_422(client: httpx.AsyncClient, viewer: Headers) -> None:
    after = await head(client, viewer)
    response = await _get(client, viewer, start="latest", after=after)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "start"]]
    assert after not in response.text


async def test_start_latest_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    assert (await client.get(EVENTS, params={"start": "latest"})).status_code == 401


# ---------------------------------------------------------------- filtered pages advance


async def test_a_filtered_page_hands_back_the_last_event_scanned(
    client: httpx.AsyncClient, viewer: Headers, feed_engine: AsyncEngine
) -> None:
    start = await head(client, viewer)
    tag = uuid.uuid4().hex
    others = [(EventType.PRODUCT_UPDATED, {"name": f"{tag}-{n}"}) for n in range(5)]
    await append_committed(feed_engine, *others)
    await settle(feed_engine)
    end = await head(client, viewer)
    body = (await _get(client, viewer, after=start, types="level.below_reorder")).json()
    assert body["items"] == []
    # Not the `after` sent: the five events of other types were scanned, and are not again.
    assert body["next_cursor"] != start
    assert _position(body["next_cursor"]) == _position(end)
    # A match after them comes on the next poll, and the poll after it has nothing.
    await append_committed(
        feed_engine,
        (EventType.LEVEL_BELOW_REORDER, {"name": f"{tag}-low"}),
        (EventType.PRODUCT_UPDATED, {"name": f"{tag}-later"}),
    )
    await settle(feed_engine)
    found = await _get(client, viewer, after=body["next_cursor"], types="level.below_reorder")
    found_body = found.json()
    assert [i["data"]["name"] for i in found_body["items"]] == [f"{tag}-low"]
    # The page was not full: it ends after the later event of another type, not its match.
    assert _position(found_body["next_cursor"]) == _position(await head(client, viewer))
    assert found_body["next_cursor"] != found_body["items"][0]["id"]
    again = await _get(client, viewer, after=found_body["next_cursor"], types="level.below_reorder")
    assert again.json() == {"items": [], "next_cursor": found_body["next_cursor"]}


async def test_a_full_filtered_page_ends_at_its_last_match(
    client: httpx.AsyncClient, viewer: Headers, feed_engine: AsyncEngine
) -> None:
    start = await head(client, viewer)
    tag = uuid.uuid4().hex
    await append_committed(
        feed_engine,
        *[(EventType.LOCATION_CREATED, {"name": f"{tag}-{n}"}) for n in range(3)],
        (EventType.PRODUCT_UPDATED, {"name": f"{tag}-other"}),
    )
    await settle(feed_engine)
    page = (await _get(client, viewer, after=start, types="location.created", limit=2)).json()
    assert [i["data"]["name"] for i in page["items"]] == [f"{tag}-0", f"{tag}-1"]
    assert page["next_cursor"] == page["items"][-1]["id"]  # the rest is not scanned yet
    rest = (await _get(client, viewer, after=page["next_cursor"], types="location.created")).json()
    assert [i["data"]["name"] for i in rest["items"]] == [f"{tag}-2"]


async def test_a_filtered_poll_at_the_end_reads_no_events(
    client: httpx.AsyncClient, viewer: Headers, feed_engine: AsyncEngine, feed_url: str
) -> None:
    """The next poll after a page with no match scans nothing: its page query returns no
    row of the thousands of other events it went through."""
    start = await head(client, viewer)
    await append_committed(
        feed_engine, *[(EventType.PRODUCT_UPDATED, {"name": str(n)}) for n in range(2000)]
    )
    await settle(feed_engine)
    first = (await _get(client, viewer, after=start, types="reservation.expired")).json()
    assert first["items"] == []
    # How many rows the next poll's page reads: the page of a cursor at the end is empty.
    async with feed_engine.connect() as connection:
        left = await connection.scalar(
            text(
                "SELECT count(*) FROM events WHERE (xid, seq) >"
                " (SELECT xid, seq FROM events WHERE seq = :seq)"
            ),
            {"seq": int(_position(first["next_cursor"])[1])},
        )
        before = await connection.scalar(
            text(
                "SELECT count(*) FROM events WHERE (xid, seq) >"
                " (SELECT xid, seq FROM events WHERE seq = :seq)"
            ),
            {"seq": int(_position(start)[1])},
        )
    assert before == 2000  # what every filtered poll read again before
    assert left == 0
    second = await _get(client, viewer, after=first["next_cursor"], types="reservation.expired")
    assert second.json() == {"items": [], "next_cursor": first["next_cursor"]}
