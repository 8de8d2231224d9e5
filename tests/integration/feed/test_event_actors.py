"""Every event names who caused it (`actor`: a user, an API client, or null for background
work) the same way wherever it is read: a feed page, a feed stream frame, and the record in
its `data` (a movement names its actor too, so /stock/events frames carry it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.event_types import EventType
from src.core.scopes import Scope
from src.main import create_app
from src.models.user import Role
from tests.support.actors import client_actor, committed_api_client, user_actor
from tests.support.factories import MakeUser, login_headers
from tests.support.feed import append_committed, head, settle
from tests.support.servers import running
from tests.support.settings import make_settings
from tests.support.sse import FEED_STREAM, STOCK_STREAM, sse
from tests.support.stock import new_location, new_product, post_movement

FEED = "/api/v1/events"
# What an ERP needs to post stock and follow the feed.
ERP_SCOPES = (Scope.STOCK_READ, Scope.STOCK_WRITE, Scope.EVENTS_READ)


def about(product: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Feed stream events about this product (its own, its movements)."""

    def keep(event: dict[str, Any]) -> bool:
        data = event["data"]["data"]
        return product["id"] in (data.get("id"), data.get("product_id"))

    return keep


async def _feed_after(
    client: httpx.AsyncClient, headers: dict[str, str], after: str
) -> list[dict[str, Any]]:
    response = await client.get(FEED, params={"after": after, "limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_events_name_their_actor_in_the_feed_and_in_both_streams(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    manager = await committed_make_user(role=Role.MANAGER, full_name="Mona Manager")
    manager_headers = await login_headers(committed_client, manager)
    erp, erp_headers = await committed_api_client(
        committed_database_url, tmp_path, scopes=ERP_SCOPES, name=f"ERP {uuid.uuid4().hex[:6]}"
    )
    start = await head(committed_client, erp_headers)
    app = create_app(make_settings(committed_database_url, tmp_path))
    async with (
        running(app) as base,
        sse(base, FEED_STREAM, erp_headers) as live,
        sse(base, STOCK_STREAM, erp_headers) as movements,
    ):
        product = await new_product(committed_client, manager_headers)
        location = await new_location(committed_client, manager_headers)
        posted = await post_movement(committed_client, erp_headers, product, location, "receipt", 4)
        assert posted.status_code == 201, posted.text
        streamed = await live.collect(2, about(product))
        moved = await movements.until_id(posted.json()["id"])

    assert [(e["event"], e["data"]["actor"]) for e in streamed] == [
        ("product.created", user_actor(manager)),
        ("movement.created", client_actor(erp)),
    ]
    # The record in `data` names the same actor, and keeps created_by for people only.
    assert streamed[1]["data"]["data"] == posted.json()
    assert posted.json()["actor"] == client_actor(erp)
    assert moved["data"] == posted.json()
    # A feed page (written without decoding the stored JSON) shows exactly the same items.
    keep = about(product)
    listed = await _feed_after(committed_client, erp_headers, start)
    assert [item for item in listed if keep({"data": item})] == [e["data"] for e in streamed]


async def test_an_event_no_one_asked_for_has_a_null_actor_everywhere(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    committed_engine: AsyncEngine,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    viewer = await login_headers(committed_client, await committed_make_user(role=Role.VIEWER))
    start = await head(committed_client, viewer)
    tag = uuid.uuid4().hex
    app = create_app(make_settings(committed_database_url, tmp_path))
    async with running(app) as base, sse(base, FEED_STREAM, viewer) as live:
        await append_committed(committed_engine, (EventType.LOCATION_CREATED, {"name": tag}))
        await settle(committed_engine)
        event = await live.first(lambda e: e["data"]["data"].get("name") == tag)
    assert list(event["data"]) == ["id", "type", "occurred_at", "actor", "data"]
    assert event["data"]["actor"] is None
    listed = await _feed_after(committed_client, viewer, start)
    assert [item for item in listed if item["data"] == {"name": tag}] == [event["data"]]


@pytest.mark.parametrize("narrowed", [False, True])
async def test_a_token_without_events_read_reads_neither_feed_nor_stream(
    committed_database_url: str,
    committed_client: httpx.AsyncClient,
    tmp_path: Path,
    narrowed: bool,
) -> None:
    """The client lacks events:read, or holds it but its token was narrowed without it."""
    _, headers = await committed_api_client(
        committed_database_url,
        tmp_path,
        scopes=ERP_SCOPES if narrowed else (Scope.STOCK_READ, Scope.STOCK_WRITE),
        name="Reader",
        token_scopes=(Scope.STOCK_READ,) if narrowed else None,
    )
    for path in (FEED, FEED_STREAM):
        refused = await committed_client.get(path, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["required_scope"] == "events:read"
    assert (await committed_client.get(FEED)).status_code == 401
