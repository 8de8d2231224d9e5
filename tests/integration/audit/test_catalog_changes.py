"""Products and locations: each change writes one audit entry naming its author, the entity
and the fields that changed (before and after); a change that fails, or that changes
nothing, writes none; an entry names the request (its X-Request-ID) and the peer."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from src.models.user import User
from tests.support.audit import audit_rows
from tests.support.clients import ClientHeaders, MakeApiClient
from tests.support.factories import Headers

PRODUCTS = "/api/v1/products"
LOCATIONS = "/api/v1/locations"


async def new_product(client: httpx.AsyncClient, headers: Headers, sku: str) -> httpx.Response:
    response = await client.post(PRODUCTS, json={"sku": sku, "name": "Bolt"}, headers=headers)
    assert response.status_code == 201, response.text
    return response


def actor_of(user: User) -> dict[str, Any]:
    return {"type": "user", "id": str(user.id), "name": user.full_name}


async def test_creating_a_product_writes_one_entry_with_the_request_id(
    client: httpx.AsyncClient, connection: AsyncConnection, admin: User, admin_headers: Headers
) -> None:
    response = await new_product(client, admin_headers, "AUD-1")
    product = response.json()
    (entry,) = await audit_rows(connection, entity_id=product["id"])
    assert entry["action"] == "product.created"
    assert entry["entity_type"] == "product"
    assert entry["actor"] == actor_of(admin)
    assert entry["changes"]["sku"] == [None, "AUD-1"]
    assert entry["changes"]["name"] == [None, "Bolt"]
    assert "description" not in entry["changes"]  # nothing given, nothing changed
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["client_ip"] == "127.0.0.1"


async def test_an_update_records_only_the_fields_that_changed(
    client: httpx.AsyncClient, connection: AsyncConnection, admin_headers: Headers
) -> None:
    product = (await new_product(client, admin_headers, "AUD-2")).json()
    response = await client.patch(
        f"{PRODUCTS}/{product['id']}",
        json={"name": "Hex bolt", "sku": "AUD-2", "reorder_point": 5},
        headers={**admin_headers, "If-Match": '"v1"'},
    )
    assert response.status_code == 200, response.text
    (entry,) = await audit_rows(connection, entity_id=product["id"], action="product.updated")
    assert entry["changes"] == {"name": ["Bolt", "Hex bolt"], "reorder_point": [0, 5]}
    assert entry["request_id"] == response.headers["x-request-id"]


async def test_a_stale_if_match_or_a_noop_leaves_no_entry(
    client: httpx.AsyncClient, connection: AsyncConnection, admin_headers: Headers
) -> None:
    product = (await new_product(client, admin_headers, "AUD-3")).json()
    url = f"{PRODUCTS}/{product['id']}"
    stale = await client.patch(
        url, json={"name": "Other"}, headers={**admin_headers, "If-Match": '"v7"'}
    )
    assert stale.status_code == 412
    same = await client.patch(
        url, json={"name": "Bolt"}, headers={**admin_headers, "If-Match": '"v1"'}
    )
    assert same.status_code == 200
    actions = [e["action"] for e in await audit_rows(connection, entity_id=product["id"])]
    assert actions == ["product.created"]


async def test_a_duplicate_sku_leaves_no_entry(
    client: httpx.AsyncClient, connection: AsyncConnection, admin_headers: Headers
) -> None:
    await new_product(client, admin_headers, "AUD-4")
    duplicate = await client.post(
        PRODUCTS, json={"sku": "aud-4", "name": "Copy"}, headers=admin_headers
    )
    assert duplicate.status_code == 409
    created = await audit_rows(connection, action="product.created")
    assert [e["changes"]["sku"][1] for e in created] == ["AUD-4"]


async def test_archive_and_restore_are_audited_once_each(
    client: httpx.AsyncClient, connection: AsyncConnection, admin_headers: Headers
) -> None:
    product = (await new_product(client, admin_headers, "AUD-5")).json()
    url = f"{PRODUCTS}/{product['id']}"
    assert (await client.delete(url, headers=admin_headers)).status_code == 204
    assert (await client.delete(url, headers=admin_headers)).status_code == 204  # already
    assert (await client.post(f"{url}/restore", headers=admin_headers)).status_code == 200
    entries = await audit_rows(connection, entity_id=product["id"])
    assert [(e["action"], e["changes"]) for e in entries[1:]] == [
        ("product.archived", {"is_archived": [False, True]}),
        ("product.restored", {"is_archived": [True, False]}),
    ]


async def test_a_location_change_names_a_client_as_its_actor(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    admin_headers: Headers,
) -> None:
    erp = await make_api_client(scopes=["catalog:write", "catalog:read"], name="ERP")
    created = await client.post(
        LOCATIONS, json={"code": "AUD-WH", "name": "Audit"}, headers=client_headers(erp)
    )
    assert created.status_code == 201, created.text
    location = created.json()
    renamed = await client.patch(
        f"{LOCATIONS}/{location['id']}",
        json={"name": "Audited"},
        headers={**admin_headers, "If-Match": '"v1"'},
    )
    assert renamed.status_code == 200, renamed.text
    first, second = await audit_rows(connection, entity_id=location["id"])
    assert first["action"] == "location.created"
    assert first["actor"] == {"type": "client", "id": str(erp.id), "name": "ERP"}
    assert second["action"] == "location.updated"
    assert second["changes"] == {"name": ["Audit", "Audited"]}
    assert second["actor"]["type"] == "user"


async def test_a_refused_write_leaves_no_entry(
    client: httpx.AsyncClient, connection: AsyncConnection, viewer_headers: Headers
) -> None:
    refused = await client.post(
        PRODUCTS, json={"sku": "AUD-6", "name": "Nope"}, headers=viewer_headers
    )
    assert refused.status_code == 403
    assert await audit_rows(connection, action="product.created") == []
