"""HTTP details clients rely on: a 204 has no Content-Type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from src.models.user import User
from tests.support.factories import (
    DEFAULT_PASSWORD,
    bearer,
    password_grant,
    refresh_grant,
    token_pair,
)
from tests.support.stock import new_location, new_product, receive

Headers = dict[str, str]
MakeUser = Callable[..., Awaitable[User]]


def assert_no_content(response: httpx.Response) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert "content-type" not in response.headers
    assert response.headers.get("content-length", "0") == "0"


async def test_logout_answers_204_without_a_content_type(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    assert_no_content(
        await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    )
    assert (await refresh_grant(client, pair["refresh_token"])).status_code == 400
    # Errors still say what they are.
    bad = await client.post("/api/v1/auth/logout", json={})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_password_change_answers_204_without_a_content_type(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    new_password = "An0ther-Sturdy-passphrase"
    wrong = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": "not-it-at-all-1", "new_password": new_password},
        headers=bearer(pair["access_token"]),
    )
    assert wrong.status_code in (400, 401, 403, 422)
    assert wrong.headers["content-type"] == "application/problem+json"
    assert_no_content(
        await client.post(
            "/api/v1/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": new_password},
            headers=bearer(pair["access_token"]),
        )
    )
    assert (await password_grant(client, user.email, new_password)).status_code == 200


async def test_archiving_answers_204_without_a_content_type(
    client: httpx.AsyncClient, manager_headers: Headers
) -> None:
    product = await new_product(client, manager_headers)
    location = await new_location(client, manager_headers)
    assert_no_content(
        await client.delete(f"/api/v1/products/{product['id']}", headers=manager_headers)
    )
    assert_no_content(
        await client.delete(f"/api/v1/locations/{location['id']}", headers=manager_headers)
    )
    stocked = await new_product(client, manager_headers)
    other = await new_location(client, manager_headers)
    await receive(client, manager_headers, stocked, other, 1)
    refused = await client.delete(f"/api/v1/products/{stocked['id']}", headers=manager_headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
