"""POST /auth/token: the password grant, RFC 6749 errors, long passwords, no leaks, and a
standard OAuth2 client library talking to it."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from fastapi import FastAPI

from src.core.tokens import key_id
from src.models.user import Role
from tests.support.factories import (
    DEFAULT_PASSWORD,
    TOKEN_URL,
    Headers,
    MakeUser,
    bearer,
    password_grant,
    refresh_grant,
    token_pair,
    unique_email,
)
from tests.support.settings import TEST_SECRET_KEY

with warnings.catch_warnings():
    # authlib >= 1.9.9 prefers the `httpx2` package and warns on import when it falls back
    # to `httpx`, which is what this project (and its ASGITransport) uses.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError


REGISTER_URL = "/api/v1/auth/register"
# Secrets and internal columns that must never appear in any response body.
LEAK_MARKERS = ("$argon2", "hashed_password", "token_hash", "family_id")


def assert_oauth_error(response: httpx.Response, error: str) -> None:
    """An RFC 6749 §5.2 error: 400, {"error", "error_description"}, never a problem document."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    assert "type" not in body
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"


# ---------------------------------------------------------------- password grant: success


async def test_password_grant_issues_a_bearer_pair(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    response = await password_grant(client, user.email)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "device_token",  # auth/test_device_tokens.py
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"]
    assert body["refresh_token"] != body["access_token"]
    me = await client.get("/api/v1/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)


async def test_access_token_is_a_jwt_with_every_claim(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    before = int(datetime.now(UTC).timestamp())
    token = (await token_pair(client, user.email))["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    assert header["kid"] == key_id(TEST_SECRET_KEY)
    assert TEST_SECRET_KEY not in header["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) >= {"sub", "exp", "iat", "nbf", "jti", "iss", "aud", "type", "sid"}
    assert claims["sub"] == str(user.id)
    assert claims["type"] == "access"
    assert claims["iss"] == "stockroom"
    assert claims["aud"] == "stockroom-api"
    # iat may carry fractions of a second (RFC 7519 NumericDate); nbf and exp are whole.
    assert before - 1 <= claims["nbf"] <= claims["iat"] < claims["nbf"] + 1 <= before + 6
    assert claims["exp"] - claims["nbf"] == 900
    second = (await token_pair(client, user.email))["access_token"]
    assert jwt.decode(second, options={"verify_signature": False})["jti"] != claims["jti"]


async def test_username_is_case_insensitive(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    user = await make_user()
    response = await password_grant(client, f"  {user.email.upper()} ")
    assert response.status_code == 200


# ---------------------------------------------------------------- password grant: failures


async def test_bad_credentials_are_indistinguishable(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    active = await make_user()
    inactive = await make_user(is_active=False)
    wrong_password = await password_grant(client, active.email, "Not-the-Passw0rd-at-all")
    unknown_email = await password_grant(client, unique_email("nobody"))
    deactivated = await password_grant(client, inactive.email)  # its correct password
    for response in (wrong_password, unknown_email, deactivated):
        assert_oauth_error(response, "invalid_grant")
    assert wrong_password.json() == unknown_email.json() == deactivated.json()
    assert wrong_password.content == unknown_email.content == deactivated.content


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param({}, "invalid_request", id="empty-body"),
        pytest.param(
            {"username": "a@example.com", "password": DEFAULT_PASSWORD},
            "invalid_request",
            id="no-grant-type",
        ),
        pytest.param({"grant_type": ""}, "invalid_request", id="empty-grant-type"),
        pytest.param(
            {"grant_type": "password", "password": DEFAULT_PASSWORD},
            "invalid_request",
            id="password-grant-without-username",
        ),
        pytest.param(
            {"grant_type": "password", "username": "a@example.com"},
            "invalid_request",
            id="password-grant-without-password",
        ),
        pytest.param(
            {"grant_type": "password", "username": "a@example.com", "password": ""},
            "invalid_request",
            id="password-grant-with-empty-password",
        ),
        pytest.param(
            {"grant_type": "refresh_token"}, "invalid_request", id="refresh-grant-without-token"
        ),
        pytest.param(
            {"grant_type": "authorization_code", "code": "abc"},
            "unsupported_grant_type",
            id="authorization-code",
        ),
    ],
)
async def test_malformed_token_requests_get_rfc6749_errors(
    client: httpx.AsyncClient, data: dict[str, str], error: str
) -> None:
    response = await client.post(TOKEN_URL, data=data)
    assert_oauth_error(response, error)


async def test_json_body_instead_of_form_is_invalid_request(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    response = await client.post(
        TOKEN_URL,
        json={"grant_type": "password", "username": user.email, "password": DEFAULT_PASSWORD},
    )
    assert_oauth_error(response, "invalid_request")


async def test_garbage_refresh_token_is_invalid_grant(client: httpx.AsyncClient) -> None:
    assert_oauth_error(await refresh_grant(client, "not-a-refresh-token"), "invalid_grant")


# ---------------------------------------------------------------- passwords past 72 bytes

LONG_PASSWORD = ("Tall-Ship-7-" * 9)[:100]


async def test_long_passwords_are_compared_in_full(client: httpx.AsyncClient) -> None:
    assert len(LONG_PASSWORD) == 100
    assert LONG_PASSWORD.isascii()
    email = unique_email("long")
    registered = await client.post(
        REGISTER_URL, json={"email": email, "password": LONG_PASSWORD, "full_name": "Long Pass"}
    )
    assert registered.status_code == 201, registered.text
    same_first_72_bytes = LONG_PASSWORD[:72] + "x" * 28
    assert same_first_72_bytes != LONG_PASSWORD
    assert same_first_72_bytes.encode()[:72] == LONG_PASSWORD.encode()[:72]
    assert_oauth_error(await password_grant(client, email, same_first_72_bytes), "invalid_grant")
    assert_oauth_error(await password_grant(client, email, LONG_PASSWORD[:72]), "invalid_grant")
    assert (await password_grant(client, email, LONG_PASSWORD)).status_code == 200


async def test_long_passwords_from_the_factory_are_compared_in_full(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    password = "\u00e9" * 40 + "-tail-" + "z" * 54  # 2-byte characters: 72 bytes = 36 chars
    user = await make_user(password=password)
    changed_tail = password[:36] + "e" * 64
    assert changed_tail.encode()[:72] == password.encode()[:72]
    assert_oauth_error(await password_grant(client, user.email, changed_tail), "invalid_grant")
    assert (await password_grant(client, user.email, password)).status_code == 200


# ---------------------------------------------------------------- no secrets in responses


async def test_no_response_leaks_hashes_or_session_rows(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    email = unique_email()
    responses: dict[str, httpx.Response] = {}
    responses["register"] = await client.post(
        REGISTER_URL, json={"email": email, "password": DEFAULT_PASSWORD, "full_name": "No Leak"}
    )
    responses["token"] = await password_grant(client, email)
    pair = responses["token"].json()
    responses["refresh"] = await refresh_grant(client, pair["refresh_token"])
    user_headers = bearer(responses["refresh"].json()["access_token"])
    responses["me"] = await client.get("/api/v1/users/me", headers=user_headers)
    await make_user(role=Role.MANAGER)
    responses["list"] = await client.get("/api/v1/users?limit=100", headers=admin_headers)
    user_id = responses["register"].json()["id"]
    responses["one"] = await client.get(f"/api/v1/users/{user_id}", headers=admin_headers)
    responses["failed-token"] = await password_grant(client, email, "Wrong-Passw0rd-here")
    for name, response in responses.items():
        assert response.status_code < 500, (name, response.text)
        for marker in LEAK_MARKERS:
            assert marker not in response.text, (name, marker)
    assert len(responses["list"].json()["items"]) >= 3


# ---------------------------------------------------------------- a standard OAuth2 client


@pytest.fixture
async def oauth_client(app: FastAPI, client: httpx.AsyncClient) -> Any:
    # `client` only starts the app's lifespan; authlib brings its own httpx client.
    async with AsyncOAuth2Client(
        client_id="stockroom-tests",
        token_endpoint=TOKEN_URL,
        token_endpoint_auth_method="none",  # a public client: no secret
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
    ) as oauth:
        yield oauth


async def test_authlib_logs_in_and_refreshes_on_its_own(
    oauth_client: Any, make_user: MakeUser
) -> None:
    user = await make_user()
    token = await oauth_client.fetch_token(username=user.email, password=DEFAULT_PASSWORD)
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 900
    first_refresh = token["refresh_token"]
    first_access = token["access_token"]
    me = await oauth_client.get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.json()["email"] == user.email

    # Pretend the access token has expired: the next request must refresh it by itself.
    oauth_client.token["expires_at"] = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    me = await oauth_client.get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)
    assert oauth_client.token["refresh_token"] != first_refresh
    assert oauth_client.token["access_token"] != first_access


async def test_authlib_surfaces_rfc6749_errors(oauth_client: Any, make_user: MakeUser) -> None:
    user = await make_user()
    with pytest.raises(OAuthError) as raised:
        await oauth_client.fetch_token(username=user.email, password="Wrong-Passw0rd-here")
    assert raised.value.error == "invalid_grant"
    token = await oauth_client.fetch_token(username=user.email, password=DEFAULT_PASSWORD)
    second = await oauth_client.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    await oauth_client.refresh_token(TOKEN_URL, refresh_token=second["refresh_token"])
    # Older than the token just replaced: no grace, a reuse.
    with pytest.raises(OAuthError) as reused:
        await oauth_client.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    assert reused.value.error == "invalid_grant"
