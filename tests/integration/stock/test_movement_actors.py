"""Who did it: every movement, transfer, count and batch names its actor, a user or an API
client, on the answer and on every read; `created_by` names people only (null for a client).
A write that is refused records no one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.scopes import Scope
from src.models.api_client import ApiClient
from src.models.user import User
from tests.support.actors import client_actor, user_actor
from tests.support.clients import ClientHeaders, MakeApiClient
from tests.support.factories import Headers
from tests.support.stock import (
    API,
    Stocked,
    line,
    on_hand,
    post_batch,
    post_count,
    post_movement,
    post_transfer,
)

WRITER = (Scope.STOCK_READ, Scope.STOCK_WRITE)


@pytest.fixture
async def erp(make_api_client: MakeApiClient) -> ApiClient:
    return await make_api_client(scopes=WRITER, name="ERP Connector")


async def _ledger_size(connection: AsyncConnection) -> int:
    return int(await connection.scalar(text("SELECT count(*) FROM stock_movements")))


async def _as_read(client: httpx.AsyncClient, headers: Headers, movement_id: str) -> Any:
    """The movement as GET /stock/movements/{id} and the list (on the driver) show it."""
    one = await client.get(f"{API}/stock/movements/{movement_id}", headers=headers)
    assert one.status_code == 200, one.text
    listed = await client.get(
        f"{API}/stock/movements",
        params={"product_id": one.json()["product_id"], "limit": 100},
        headers=headers,
    )
    assert listed.status_code == 200, listed.text
    [found] = [item for item in listed.json()["items"] if item["id"] == movement_id]
    assert found == one.json()
    return one.json()


async def test_a_users_movement_names_the_user(
    client: httpx.AsyncClient, clerk: User, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    posted = await post_movement(client, clerk_headers, product, a, "issue", 2)
    assert posted.status_code == 201, posted.text
    body = posted.json()
    assert body["actor"] == user_actor(clerk)
    assert body["created_by"] == str(clerk.id)
    assert await _as_read(client, clerk_headers, body["id"]) == body


async def test_a_clients_movement_names_the_client_and_no_person(
    client: httpx.AsyncClient,
    erp: ApiClient,
    client_headers: ClientHeaders,
    stocked: Stocked,
) -> None:
    product, a, _ = stocked
    headers = client_headers(erp)
    posted = await post_movement(client, headers, product, a, "issue", 2)
    assert posted.status_code == 201, posted.text
    body = posted.json()
    assert body["actor"] == client_actor(erp)
    assert body["created_by"] is None
    assert await _as_read(client, headers, body["id"]) == body
    # The checked path (expected_on_hand) records the same.
    checked = await post_movement(client, headers, product, a, "issue", 1, expected_on_hand=8)
    assert checked.status_code == 201, checked.text
    assert (checked.json()["actor"], checked.json()["created_by"]) == (client_actor(erp), None)


async def test_a_clients_transfer_count_and_batch_name_it_on_every_movement(
    client: httpx.AsyncClient,
    erp: ApiClient,
    client_headers: ClientHeaders,
    clerk_headers: Headers,
    stocked: Stocked,
) -> None:
    product, a, b = stocked
    headers = client_headers(erp)
    expected = client_actor(erp)

    transfer = await post_transfer(client, headers, product, a, b, 3)
    counted = await post_count(client, headers, b, (product, 2))
    batch = await post_batch(
        client, headers, line(product, a, "receipt", 4), line(product, b, "issue", 1)
    )
    for response in (transfer, counted, batch):
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["actor"] == expected
        assert body["movements"]
        for movement in body["movements"]:
            assert (movement["actor"], movement["created_by"]) == (expected, None)
            assert (await _as_read(client, clerk_headers, movement["id"]))["actor"] == expected


async def test_a_users_count_that_finds_nothing_to_adjust_still_names_its_actor(
    client: httpx.AsyncClient, clerk: User, clerk_headers: Headers, stocked: Stocked
) -> None:
    product, a, _ = stocked
    response = await post_count(client, clerk_headers, a, (product, 10))
    assert response.status_code == 201, response.text
    assert response.json()["movements"] == []
    assert response.json()["actor"] == user_actor(clerk)


async def test_a_client_without_stock_write_posts_nothing(
    client: httpx.AsyncClient,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    clerk_headers: Headers,
    stocked: Stocked,
    connection: AsyncConnection,
) -> None:
    product, a, _ = stocked
    reader = await make_api_client(scopes=[Scope.STOCK_READ], name="Dashboard")
    before = await _ledger_size(connection)
    refused = await post_movement(client, client_headers(reader), product, a, "issue", 1)
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "stock:write"
    # Nor does a writer's token narrowed to reading.
    erp = await make_api_client(scopes=WRITER, name="ERP")
    narrowed = client_headers(erp, scopes=[Scope.STOCK_READ])
    assert (await post_batch(client, narrowed, line(product, a, "issue", 1))).status_code == 403
    assert await _ledger_size(connection) == before
    assert await on_hand(client, clerk_headers, product, a) == 10


async def test_a_refused_or_unauthenticated_posting_records_no_actor(
    client: httpx.AsyncClient,
    erp: ApiClient,
    client_headers: ClientHeaders,
    clerk_headers: Headers,
    stocked: Stocked,
    connection: AsyncConnection,
) -> None:
    product, a, _ = stocked
    before = await _ledger_size(connection)
    short = await post_movement(client, client_headers(erp), product, a, "issue", 11)
    assert short.status_code == 409, short.text
    anonymous = await post_movement(client, {}, product, a, "issue", 1)
    assert anonymous.status_code == 401
    assert await _ledger_size(connection) == before
    assert await on_hand(client, clerk_headers, product, a) == 10
    authors = await connection.scalar(
        text("SELECT count(*) FROM stock_movements WHERE actor->>'id' = :id"), {"id": str(erp.id)}
    )
    assert authors == 0
