"""Who a request acts as: a user, or an API client with the scopes its token grants; and the
one scope check that serves both (a person keeps v1's `forbidden`, a client gets
`insufficient-scope`)."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.scopes import CLIENT_SCOPES, Scope
from tests.support.clients import ClientHeaders, MakeApiClient
from tests.support.factories import Headers


async def test_a_client_token_reads_what_its_scopes_allow(
    client: httpx.AsyncClient, make_api_client: MakeApiClient, client_headers: ClientHeaders
) -> None:
    shop = await make_api_client(scopes=[Scope.CATALOG_READ])
    response = await client.get("/api/v1/products", headers=client_headers(shop))
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


async def test_a_client_without_the_scope_gets_insufficient_scope(
    client: httpx.AsyncClient, make_api_client: MakeApiClient, client_headers: ClientHeaders
) -> None:
    shop = await make_api_client(scopes=[Scope.CATALOG_READ])
    response = await client.get("/api/v1/stock/levels", headers=client_headers(shop))
    assert response.status_code == 403
    body = response.json()
    assert body["type"].endswith("/problems/insufficient-scope")
    assert body["required_scope"] == "stock:read"
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="stock:read"'
    )


async def test_a_narrowed_token_holds_only_its_scopes(
    client: httpx.AsyncClient, make_api_client: MakeApiClient, client_headers: ClientHeaders
) -> None:
    shop = await make_api_client(scopes=[Scope.CATALOG_READ, Scope.STOCK_READ])
    headers = client_headers(shop, [Scope.STOCK_READ])
    assert (await client.get("/api/v1/stock/levels", headers=headers)).status_code == 200
    refused = await client.get("/api/v1/products", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "catalog:read"


async def test_a_person_below_the_role_keeps_getting_forbidden(
    client: httpx.AsyncClient, viewer_headers: Headers
) -> None:
    response = await client.post(
        "/api/v1/products", json={"sku": "A-1", "name": "A"}, headers=viewer_headers
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/problems/forbidden")
    assert "required_scope" not in response.json()
    assert "insufficient_scope" not in response.headers.get("www-authenticate", "")


async def test_a_client_token_on_users_me_is_refused(
    client: httpx.AsyncClient, make_api_client: MakeApiClient, client_headers: ClientHeaders
) -> None:
    every = await make_api_client(scopes=CLIENT_SCOPES)
    response = await client.get("/api/v1/users/me", headers=client_headers(every))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/problems/insufficient-scope")
    listed = await client.get("/api/v1/users", headers=client_headers(every))
    assert listed.status_code == 403


async def test_a_deactivated_or_deleted_client_is_refused_on_its_next_request(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
) -> None:
    shop = await make_api_client(scopes=[Scope.CATALOG_READ])
    headers = client_headers(shop)
    assert (await client.get("/api/v1/products", headers=headers)).status_code == 200
    await connection.execute(
        text("UPDATE api_clients SET is_active = false WHERE id = :id"), {"id": shop.id}
    )
    refused = await client.get("/api/v1/products", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    await connection.execute(
        text("UPDATE api_clients SET is_active = true, revoked_at = now() WHERE id = :id"),
        {"id": shop.id},
    )
    assert (await client.get("/api/v1/products", headers=headers)).status_code == 401


async def test_a_token_dies_when_its_client_loses_one_of_its_scopes(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
) -> None:
    shop = await make_api_client(scopes=[Scope.CATALOG_READ, Scope.STOCK_READ])
    headers = client_headers(shop)
    narrow = client_headers(shop, [Scope.CATALOG_READ])
    await connection.execute(
        text("UPDATE api_clients SET scopes = '{catalog:read}' WHERE id = :id"), {"id": shop.id}
    )
    assert (await client.get("/api/v1/products", headers=headers)).status_code == 401
    # A token that never held the scope taken away lives on.
    assert (await client.get("/api/v1/products", headers=narrow)).status_code == 200
