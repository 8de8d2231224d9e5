"""HTTP details clients rely on: a 204 has no Content-Type, the token endpoint tells a
client that sent JSON to send a form, and HEAD answers wherever GET does."""

from __future__ import annotations

import httpx

from tests.support.factories import (
    DEFAULT_PASSWORD,
    Headers,
    MakeUser,
    bearer,
    password_grant,
    refresh_grant,
    token_pair,
)
from tests.support.stock import new_location, new_product, receive

TOKEN_URL = "/api/v1/auth/token"


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


# ---------------------------------------------------------------- token endpoint and JSON


async def test_a_json_token_request_is_told_to_send_a_form(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    body = {"grant_type": "password", "username": user.email, "password": DEFAULT_PASSWORD}
    for content_type in ("application/json", "application/json; charset=utf-8"):
        response = await client.post(
            TOKEN_URL,
            content=httpx.Request("POST", "/", json=body).content,
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        error = response.json()
        assert error["error"] == "invalid_request"
        assert "application/x-www-form-urlencoded" in error["error_description"]
        assert "access_token" not in error
    # The same fields as a form log in.
    assert (await client.post(TOKEN_URL, data=body)).status_code == 200


async def test_json_token_requests_issue_nothing_whatever_they_hold(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    for body in (
        b'{"grant_type": "refresh_token", "refresh_token": "'
        + pair["refresh_token"].encode()
        + b'"}',
        b"not json at all",
        b"",
    ):
        response = await client.post(
            TOKEN_URL, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
        assert "application/x-www-form-urlencoded" in response.json()["error_description"]
    # The refresh token sent as JSON was not used: it still rotates once.
    assert (await refresh_grant(client, pair["refresh_token"])).status_code == 200
    # A form without a grant type is still the plain invalid_request it was.
    missing = await client.post(TOKEN_URL, data={"username": user.email})
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": "grant_type is required",
    }
