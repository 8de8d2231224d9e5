"""Scopes on every operation, called for real: a client token lacking an operation's scope
gets `insufficient-scope` (naming it, with RFC 6750's header), one holding it gets past the
check; a person keeps v1's role matrix and its `forbidden` text; users are managed by people
only; a narrowed token holds only what it asked for.

Requests carry no body and ids no record has: the scope check runs before the body and the
ids are looked at (the bodies are read before the check, but validated after it)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.scopes import CLIENT_SCOPES, ROLE_SCOPES, Scope
from tests.support.clients import ClientHeaders, MakeApiClient
from tests.support.factories import Headers
from tests.support.scopes import LEAST_ROLE, OPERATIONS, PUBLIC, SCOPED, STREAMS, concrete
from tests.support.stock import Stocked, on_hand, post_movement

ROLES = ["viewer", "clerk", "manager", "admin"]
# Operations a request can call without opening a stream (ASGITransport buffers a stream's
# whole response, so a stream that opens never answers here: tests/integration/feed has them).
ANSWERED = {name: entry for name, entry in SCOPED.items() if name not in STREAMS}
CLIENT_OPERATIONS = {n: e for n, e in ANSWERED.items() if Scope(e[2]) in CLIENT_SCOPES}


async def call(client: httpx.AsyncClient, name: str, headers: Headers) -> httpx.Response:
    method, path, _ = OPERATIONS[name]
    return await client.request(method, concrete(path), headers=headers)


def assert_insufficient_scope(response: httpx.Response, scope: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/insufficient-scope"
    assert body["required_scope"] == scope
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )


def assert_forbidden(response: httpx.Response, role: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["type"] == "/problems/forbidden"
    assert body["detail"] == f"This action needs the {role} role or higher"
    assert "required_scope" not in body
    assert "insufficient_scope" not in response.headers.get("www-authenticate", "")


def assert_let_through(response: httpx.Response) -> None:
    """Past the scope check: whatever the operation says next (404, 422, 201…), not 401/403."""
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("name", sorted(SCOPED))
async def test_a_client_token_lacking_the_scope_gets_insufficient_scope(
    client: httpx.AsyncClient,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    name: str,
) -> None:
    scope = OPERATIONS[name][2]
    everything_else = CLIENT_SCOPES - {Scope(scope)}
    system = await make_api_client(scopes=everything_else)
    assert_insufficient_scope(await call(client, name, client_headers(system)), scope)
    # Narrowing to everything else refuses the same way, from a client that holds the scope.
    if Scope(scope) in CLIENT_SCOPES:
        holder = await make_api_client(scopes=CLIENT_SCOPES)
        narrowed = client_headers(holder, everything_else)
        assert_insufficient_scope(await call(client, name, narrowed), scope)


@pytest.mark.parametrize("name", sorted(CLIENT_OPERATIONS))
async def test_a_client_token_holding_only_the_scope_gets_past_the_check(
    client: httpx.AsyncClient,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    name: str,
) -> None:
    system = await make_api_client(scopes=[Scope(OPERATIONS[name][2])])
    assert_let_through(await call(client, name, client_headers(system)))


@pytest.mark.parametrize("name", sorted(SCOPED))
async def test_no_token_is_401_everywhere_a_scope_is_needed(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await call(client, name, {})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("name", sorted(n for n, e in OPERATIONS.items() if e[2] == PUBLIC))
async def test_public_operations_need_no_token(client: httpx.AsyncClient, name: str) -> None:
    response = await call(client, name, {})
    assert response.status_code not in (401, 403), response.text
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize("name", sorted(ANSWERED))
async def test_people_keep_the_v1_role_matrix(
    client: httpx.AsyncClient,
    viewer_headers: Headers,
    clerk_headers: Headers,
    manager_headers: Headers,
    admin_headers: Headers,
    name: str,
) -> None:
    scope = OPERATIONS[name][2]
    least = LEAST_ROLE[scope]
    people = [viewer_headers, clerk_headers, manager_headers, admin_headers]
    for role, headers in zip(ROLES, people, strict=True):
        response = await call(client, name, headers)
        if ROLES.index(role) >= ROLES.index(least):
            assert Scope(scope) in ROLE_SCOPES[role]
            assert_let_through(response)
        else:
            assert_forbidden(response, least)


async def test_a_viewer_posting_stock_is_forbidden_and_nothing_moves(
    client: httpx.AsyncClient, stocked: Stocked, viewer_headers: Headers
) -> None:
    product, a, _ = stocked
    refused = await post_movement(client, viewer_headers, product, a, "issue", 3)
    assert_forbidden(refused, "clerk")
    assert await on_hand(client, viewer_headers, product, a) == 10


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/users/me"),
        ("PATCH", "/api/v1/users/me"),
        ("POST", "/api/v1/users/me/password"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/users/{id}"),
        ("PATCH", "/api/v1/users/{id}"),
    ],
)
async def test_users_are_managed_by_people_only(
    client: httpx.AsyncClient,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
    method: str,
    path: str,
) -> None:
    every = await make_api_client(scopes=CLIENT_SCOPES)
    response = await client.request(method, concrete(path), headers=client_headers(every))
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["type"] == "/problems/insufficient-scope"
    assert body["required_scope"] in {"accounts", "users:manage"}
    assert "people only" in body["detail"]


async def test_a_narrowed_token_posts_nothing_it_did_not_ask_for(
    client: httpx.AsyncClient,
    stocked: Stocked,
    viewer_headers: Headers,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
) -> None:
    product, a, _ = stocked
    erp = await make_api_client(scopes=[Scope.STOCK_READ, Scope.STOCK_WRITE])
    reader = client_headers(erp, [Scope.STOCK_READ])
    levels = await client.get("/api/v1/stock/levels", headers=reader)
    assert levels.status_code == 200, levels.text
    refused = await post_movement(client, reader, product, a, "issue", 3)
    assert_insufficient_scope(refused, "stock:write")
    assert await on_hand(client, viewer_headers, product, a) == 10
    # The full token of the same client posts.
    posted = await post_movement(client, client_headers(erp), product, a, "issue", 3)
    assert posted.status_code == 201, posted.text
    assert posted.json()["created_by"] is None  # a client acted, not a person
    assert await on_hand(client, viewer_headers, product, a) == 7


async def test_a_token_asking_for_more_than_its_client_holds_is_refused(
    client: httpx.AsyncClient, make_api_client: MakeApiClient, client_headers: ClientHeaders
) -> None:
    shop = await make_api_client(scopes=[Scope.CATALOG_READ])
    wider = client_headers(shop, [Scope.CATALOG_READ, Scope.STOCK_WRITE])
    response = await client.get("/api/v1/products", headers=wider)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_client_losing_a_scope_loses_it_on_the_next_request(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    make_api_client: MakeApiClient,
    client_headers: ClientHeaders,
) -> None:
    shop = await make_api_client(scopes=[Scope.CATALOG_READ, Scope.STOCK_READ])
    narrow = client_headers(shop, [Scope.STOCK_READ])
    assert (await client.get("/api/v1/stock/levels", headers=narrow)).status_code == 200
    await connection.execute(
        text("UPDATE api_clients SET scopes = '{catalog:read}' WHERE id = :id"), {"id": shop.id}
    )
    refused = await client.get("/api/v1/stock/levels", headers=narrow)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
