"""GET /api/v1/audit: entries as the contract shows them, newest first, in keyset pages that
never skip or repeat, narrowed by action, entity, actor and time; admins and clients holding
audit:read may read it, no one else."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.ids import new_id
from src.models.user import User
from tests.support.audit import AUDIT, audit_page
from tests.support.clients import ClientHeaders, MakeApiClient
from tests.support.factories import Headers

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ALICE = {"type": "user", "id": str(uuid.UUID(int=1)), "name": "Alice"}
ROBOT = {"type": "client", "id": str(uuid.UUID(int=2)), "name": "Robot"}


async def seed(connection: AsyncConnection, count: int) -> list[str]:
    """`count` entries an hour apart from T0 (every third by the client, the rest by Alice;
    actions and entities alternate); their ids, oldest first."""
    ids = []
    for n in range(count):
        entry_id = new_id()
        ids.append(str(entry_id))
        await connection.execute(
            text(
                "INSERT INTO audit_entries (id, at, action, actor, entity_type, entity_id,"
                " changes) VALUES (:id, :at, :action, CAST(:actor AS jsonb), :type, :entity,"
                " CAST(:changes AS jsonb))"
            ),
            {
                "id": entry_id,
                "at": T0 + timedelta(hours=n),
                "action": "product.updated" if n % 2 else "location.updated",
                "actor": json.dumps(ROBOT if n % 3 == 0 else ALICE),
                "type": "product" if n % 2 else "location",
                "entity": f"e{n % 4}",
                "changes": json.dumps({"name": [f"n{n}", f"n{n + 1}"]}),
            },
        )
    return ids


async def every_page(
    client: httpx.AsyncClient, headers: Headers, **params: Any
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await audit_page(
            client, headers, limit=3, **params, **({"cursor": cursor} if cursor else {})
        )
        entries.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


async def test_an_entry_reads_as_the_contract_says(
    client: httpx.AsyncClient, admin: User, admin_headers: Headers
) -> None:
    created = await client.post(
        "/api/v1/products", json={"sku": "API-1", "name": "Nut"}, headers=admin_headers
    )
    assert created.status_code == 201
    (entry,) = (await audit_page(client, admin_headers))["items"]
    assert set(entry) == {
        "id", "at", "action", "actor", "entity", "changes", "request_id", "client_ip"
    }  # fmt: skip
    assert entry["action"] == "product.created"
    assert entry["actor"] == {"type": "user", "id": str(admin.id), "name": admin.full_name}
    assert entry["entity"] == {"type": "product", "id": created.json()["id"]}
    assert entry["changes"]["sku"] == [None, "API-1"]
    assert entry["request_id"] == created.headers["x-request-id"]
    assert entry["client_ip"] == "127.0.0.1"
    one = await client.get(f"{AUDIT}/{entry['id']}", headers=admin_headers)
    assert one.status_code == 200
    assert one.json() == entry


async def test_pages_run_newest_first_without_skipping_or_repeating(
    client: httpx.AsyncClient, connection: AsyncConnection, admin_headers: Headers
) -> None:
    ids = await seed(connection, 10)
    listed = await every_page(client, admin_headers)
    assert [e["id"] for e in listed] == ids[::-1]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "product.updated"}, [1, 3, 5, 7, 9]),
        ({"entity_type": "location", "entity_id": "e2"}, [2, 6]),
        ({"entity_id": "e1"}, [1, 5, 9]),
        ({"actor_id": ROBOT["id"]}, [0, 3, 6, 9]),
        ({"since": (T0 + timedelta(hours=7)).isoformat()}, [7, 8, 9]),
        ({"until": (T0 + timedelta(hours=2)).isoformat()}, [0, 1]),
        (
            {
                "actor_id": ALICE["id"],
                "since": (T0 + timedelta(hours=2)).isoformat(),
                "until": (T0 + timedelta(hours=8)).isoformat(),
            },
            [2, 4, 5, 7],
        ),
    ],
)
async def test_filters_narrow_every_page(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    admin_headers: Headers,
    params: dict[str, str],
    expected: list[int],
) -> None:
    ids = await seed(connection, 10)
    listed = await every_page(client, admin_headers, **params)
    assert [e["id"] for e in listed] == [ids[n] for n in reversed(expected)]


@pytest.mark.parametrize(
    "params",
    [{"actor_id": "not-a-uuid"}, {"since": "yesterday"}, {"action": ""}, {"sort": "at"}],
)
async def test_a_bad_filter_is_a_422(
    client: httpx.AsyncClient, admin_headers: Headers, params: dict[str, str]
) -> None:
    response = await client.get(AUDIT, params=params, headers=admin_headers)
    assert response.status_code == 422, response.text


async def test_a_forged_cursor_is_a_400(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    response = await client.get(AUDIT, params={"cursor": "abc"}, headers=admin_headers)
    assert response.status_code == 400, response.text


async def test_an_unknown_entry_is_a_404(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    response = await client.get(f"{AUDIT}/{uuid.UUID(int=9)}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


async def test_people_other_than_admins_are_forbidden(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    viewer_headers: Headers,
    clerk_headers: Headers,
    manager_headers: Headers,
) -> None:
    await seed(connection, 1)
    for headers in (viewer_headers, clerk_headers, manager_headers):
        for url in (AUDIT, f"{AUDIT}/{uuid.UUID(int=9)}"):
            response = await client.get(url, headers=headers)
            assert response.status_code == 403
            assert response.json()["type"] == "/problems/forbidden"


async def test_anonymous_callers_are_unauthorized(client: httpx.AsyncClient) -> None:
    assert (await client.get(AUDIT)).status_code == 401


async def test_a_client_needs_audit_read(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
) -> None:
    await seed(connection, 2)
    shop = await make_api_client(scopes=["catalog:read", "stock:read"])
    refused = await client.get(AUDIT, headers=client_headers(shop))
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/insufficient-scope"
    assert refused.json()["required_scope"] == "audit:read"
    auditor = await make_api_client(scopes=["audit:read"])
    page = await audit_page(client, client_headers(auditor))
    assert len(page["items"]) == 2
