"""API clients: creating, changing, rotating and revoking one each write an audit entry
naming the admin; the secret never appears in any of them, and a refused change writes none."""

from __future__ import annotations

import json

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from src.models.user import User
from tests.support.audit import audit_page, audit_rows
from tests.support.factories import Headers

CLIENTS = "/api/v1/clients"


async def test_a_clients_life_is_in_the_audit_log_without_its_secrets(
    client: httpx.AsyncClient, connection: AsyncConnection, admin: User, admin_headers: Headers
) -> None:
    created = await client.post(
        CLIENTS, json={"name": "Shop", "scopes": ["catalog:read"]}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    shop = created.json()
    secrets = [shop["client_secret"]]
    patched = await client.patch(
        f"{CLIENTS}/{shop['id']}",
        json={"scopes": ["catalog:read", "stock:read"]},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    rotated = await client.post(
        f"{CLIENTS}/{shop['id']}/rotate-secret",
        json={"previous_valid_for_seconds": 0},
        headers=admin_headers,
    )
    assert rotated.status_code == 200, rotated.text
    secrets.append(rotated.json()["client_secret"])
    assert (
        await client.delete(f"{CLIENTS}/{shop['id']}", headers=admin_headers)
    ).status_code == 204

    entries = await audit_rows(connection, entity_id=shop["id"])
    assert [e["action"] for e in entries] == [
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "client.revoked",
    ]
    assert {e["entity_type"] for e in entries} == {"api_client"}
    assert all(e["actor"]["id"] == str(admin.id) for e in entries)
    assert entries[0]["changes"]["name"] == [None, "Shop"]
    assert entries[1]["changes"] == {"scopes": [["catalog:read"], ["catalog:read", "stock:read"]]}
    assert entries[2]["changes"] == {"secret": ["[redacted]", "[redacted]"]}
    dumped = json.dumps([{k: str(v) for k, v in e.items()} for e in entries])
    assert not any(secret in dumped for secret in secrets)
    assert "srs_" not in dumped
    # The admin's list shows the same, newest first.
    page = await audit_page(client, admin_headers, entity_id=shop["id"])
    assert [item["action"] for item in page["items"]] == [
        "client.revoked",
        "client.secret_rotated",
        "client.updated",
        "client.created",
    ]


async def test_a_refused_client_change_writes_no_entry(
    client: httpx.AsyncClient, connection: AsyncConnection, admin_headers: Headers
) -> None:
    refused = await client.post(
        CLIENTS, json={"name": "Shop", "scopes": ["users:manage"]}, headers=admin_headers
    )
    assert refused.status_code == 422
    assert [e for e in await audit_rows(connection) if e["entity_type"] == "api_client"] == []


async def test_a_manager_cannot_create_a_client_nor_leave_an_entry(
    client: httpx.AsyncClient, connection: AsyncConnection, manager_headers: Headers
) -> None:
    refused = await client.post(
        CLIENTS, json={"name": "Shop", "scopes": ["catalog:read"]}, headers=manager_headers
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/problems/forbidden")
    assert [e for e in await audit_rows(connection) if e["entity_type"] == "api_client"] == []
