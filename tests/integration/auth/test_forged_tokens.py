"""GET /users/me with forged, altered and misused access tokens: all 401, none ever a user.

Tokens are built by hand with PyJWT (never with the server's codec), so the tests check what
the server accepts rather than what it happens to produce. A bad token answers RFC 6750 §3
`WWW-Authenticate: Bearer error="invalid_token"`; no bearer token at all answers a plain
`Bearer` challenge.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI

from src.core.tokens import key_id
from src.models.user import User
from tests.support.apps import client_beside
from tests.support.factories import (
    DEFAULT_PASSWORD,
    MakeUser,
    access_claims,
    b64url,
    b64url_json,
    bearer,
    sign_token,
    token_pair,
    unsigned_token,
)
from tests.support.settings import TEST_SECRET_KEY, make_settings

ME = "/api/v1/users/me"
KID = key_id(TEST_SECRET_KEY)
WRONG_KEY = "an-entirely-different-key-0123456789-abcdefgh"
NEW_KEY = "Rotated-signing-key-2b7e151628aed2a6abf7158809cf4f3c"
INVALID_TOKEN = 'Bearer error="invalid_token"'
HOUR = 3600

AppWithKeys = Callable[[str, list[str]], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def user(make_user: MakeUser) -> User:
    return await make_user(full_name="Tess Token")


@pytest.fixture
async def sid(client: httpx.AsyncClient, user: User) -> str:
    """A live session of `user` (a real login): hand-made tokens must name one."""
    return session_of((await token_pair(client, user.email))["access_token"])


def session_of(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unauthorized"
    assert response.headers["www-authenticate"] == INVALID_TOKEN


def assert_no_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(ME, headers=bearer(token))


# ------------------------------------------------------------------ the control


async def test_a_correctly_made_token_is_accepted(
    client: httpx.AsyncClient, user: User, sid: str
) -> None:
    response = await me(client, sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(user.id)
    assert response.json()["email"] == user.email


# ------------------------------------------------------------------ signature and algorithm


async def test_alg_none_is_rejected(client: httpx.AsyncClient, user: User, sid: str) -> None:
    token = unsigned_token(access_claims(user.id, sid=sid), kid=KID)
    assert token.endswith(".")
    assert_invalid_token(await me(client, token))


async def test_alg_none_with_a_copied_signature_is_rejected(
    client: httpx.AsyncClient, user: User, sid: str
) -> None:
    signature = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY).rsplit(".", 1)[1]
    token = unsigned_token(access_claims(user.id, sid=sid), kid=KID) + signature
    assert_invalid_token(await me(client, token))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_another_algorithm_with_the_right_key_is_rejected(
    client: httpx.AsyncClient, user: User, sid: str
) -> None:
    token = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY, algorithm="HS512")
    assert_invalid_token(await me(client, token))


async def test_a_wrong_key_is_rejected(client: httpx.AsyncClient, user: User, sid: str) -> None:
    # The header names the server's key, the signature is made with another.
    token = sign_token(access_claims(user.id, sid=sid), WRONG_KEY, kid=KID)
    assert_invalid_token(await me(client, token))


async def test_a_tampered_payload_is_rejected(
    client: httpx.AsyncClient, user: User, make_user: MakeUser, sid: str
) -> None:
    victim = await make_user(full_name="Vera Victim")
    token = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(victim.id)
    response = await me(client, f"{header}.{b64url_json(claims)}.{signature}")
    assert_invalid_token(response)
    assert str(victim.id) not in response.text


async def test_a_truncated_signature_is_rejected(
    client: httpx.AsyncClient, user: User, sid: str
) -> None:
    token = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY)
    assert_invalid_token(await me(client, token[:-4]))


# ------------------------------------------------------------------ claims


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"iat": -2 * HOUR, "nbf": -2 * HOUR, "exp": -HOUR}, id="expired"),
        pytest.param({"nbf": HOUR}, id="nbf-in-the-future"),
    ],
)
async def test_tokens_outside_their_validity_window_are_rejected(
    client: httpx.AsyncClient, user: User, overrides: dict[str, int], sid: str
) -> None:
    now = int(time.time())
    claims = access_claims(
        user.id, sid=sid, **{name: now + delta for name, delta in overrides.items()}
    )
    assert_invalid_token(await me(client, sign_token(claims, TEST_SECRET_KEY)))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"aud": "someone-else-api"}, id="wrong-aud"),
        pytest.param({"aud": ["someone-else-api"]}, id="wrong-aud-list"),
        pytest.param({"iss": "evil-issuer"}, id="wrong-iss"),
        pytest.param({"type": "refresh"}, id="type-refresh"),
        pytest.param({"sub": "not-a-uuid"}, id="sub-not-a-uuid"),
        pytest.param({"sub": ""}, id="sub-empty"),
    ],
)
async def test_tokens_with_wrong_claims_are_rejected(
    client: httpx.AsyncClient, user: User, overrides: dict[str, object], sid: str
) -> None:
    claims = access_claims(user.id, sid=sid, **overrides)
    assert_invalid_token(await me(client, sign_token(claims, TEST_SECRET_KEY)))


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "nbf", "jti", "iss", "aud", "type", "sid"])
async def test_a_token_missing_a_required_claim_is_rejected(
    client: httpx.AsyncClient, user: User, claim: str, sid: str
) -> None:
    claims = access_claims(user.id, **{"sid": sid, claim: None})
    assert claim not in claims
    assert_invalid_token(await me(client, sign_token(claims, TEST_SECRET_KEY)))


async def test_a_token_for_a_user_that_does_not_exist_is_rejected(
    client: httpx.AsyncClient, sid: str
) -> None:
    token = sign_token(access_claims(uuid.uuid4(), sid=sid), TEST_SECRET_KEY)
    assert_invalid_token(await me(client, token))


@pytest.mark.parametrize(
    "session", ["unknown", "not-a-uuid", "number"], ids=["unknown", "not-a-uuid", "number"]
)
async def test_a_token_naming_no_live_session_is_rejected(
    client: httpx.AsyncClient, user: User, session: str
) -> None:
    sid: object = {"unknown": str(uuid.uuid4()), "not-a-uuid": "tab-1", "number": 7}[session]
    assert_invalid_token(
        await me(client, sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY))
    )


async def test_a_token_naming_another_users_session_is_rejected(
    client: httpx.AsyncClient, user: User, make_user: MakeUser
) -> None:
    other = await make_user(full_name="Otto Other")
    borrowed = session_of((await token_pair(client, other.email))["access_token"])
    response = await me(client, sign_token(access_claims(user.id, sid=borrowed), TEST_SECRET_KEY))
    assert_invalid_token(response)
    assert other.email not in response.text


async def test_a_token_for_a_deactivated_user_is_rejected(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    gone = await make_user(is_active=False)
    assert_invalid_token(await me(client, sign_token(access_claims(gone.id), TEST_SECRET_KEY)))


# ------------------------------------------------------------------ key ids


async def test_an_unknown_kid_is_rejected(client: httpx.AsyncClient, user: User, sid: str) -> None:
    token = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY, kid="0123456789abcdef")
    assert_invalid_token(await me(client, token))


async def test_a_token_without_kid_is_rejected(
    client: httpx.AsyncClient, user: User, sid: str
) -> None:
    token = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY, with_kid=False)
    assert_invalid_token(await me(client, token))


# ------------------------------------------------------------------ not a JWT at all


async def test_a_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, user: User
) -> None:
    refresh_token = (await token_pair(client, user.email))["refresh_token"]
    assert_invalid_token(await me(client, refresh_token))


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("a.b.c", id="three-garbage-segments"),
        pytest.param(f"{b64url(b'{')}.{b64url(b'{')}.", id="broken-json"),
        pytest.param(f"{b64url_json(['not', 'an', 'object'])}.e30.", id="header-not-object"),
    ],
)
async def test_garbage_is_rejected(client: httpx.AsyncClient, token: str) -> None:
    assert_invalid_token(await me(client, token))


# ------------------------------------------------------------------ no bearer token at all
# RFC 6750 §3.1: a request without a bearer token (none, an empty one, or another scheme) is
# not "a bad token": the challenge carries no error code.


async def test_a_missing_token_gets_a_plain_challenge(client: httpx.AsyncClient) -> None:
    assert_no_token(await client.get(ME))


@pytest.mark.parametrize("value", ["Bearer", "Bearer "])
async def test_bearer_with_an_empty_token_is_unauthenticated(
    client: httpx.AsyncClient, value: str
) -> None:
    assert_no_token(await client.get(ME, headers={"Authorization": value}))


async def test_basic_auth_is_not_accepted(client: httpx.AsyncClient, user: User) -> None:
    credentials = base64.b64encode(f"{user.email}:{DEFAULT_PASSWORD}".encode()).decode()
    assert_no_token(await client.get(ME, headers={"Authorization": f"Basic {credentials}"}))


# ------------------------------------------------------------------ key rotation


@pytest.fixture
def app_with_keys(database_url: str, tmp_path: Path, app: FastAPI) -> AppWithKeys:
    """An app signing with `secret_key` and still verifying `previous`, on the test's
    connection."""

    @asynccontextmanager
    async def build(secret_key: str, previous: list[str]) -> AsyncIterator[httpx.AsyncClient]:
        settings = make_settings(
            database_url, tmp_path, secret_key=secret_key, secret_key_previous=previous
        )
        async with client_beside(app, settings) as client:
            yield client

    return build


async def test_rotation_accepts_tokens_of_the_previous_key(
    app_with_keys: AppWithKeys, user: User, sid: str
) -> None:
    old = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY)
    new = sign_token(access_claims(user.id, sid=sid), NEW_KEY)
    async with app_with_keys(NEW_KEY, [TEST_SECRET_KEY]) as client:
        for token in (old, new):
            response = await me(client, token)
            assert response.status_code == 200, response.text
            assert response.json()["id"] == str(user.id)


async def test_rotation_signs_new_tokens_with_the_new_key(
    app_with_keys: AppWithKeys, user: User
) -> None:
    async with app_with_keys(NEW_KEY, [TEST_SECRET_KEY]) as client:
        access_token = (await token_pair(client, user.email))["access_token"]
    header = json.loads(base64.urlsafe_b64decode(access_token.split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": key_id(NEW_KEY)}


async def test_without_the_previous_key_old_tokens_are_rejected(
    app_with_keys: AppWithKeys, user: User, sid: str
) -> None:
    old = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY)
    # Claiming the new key's id does not help: the signature is the old key's.
    old_renamed = sign_token(access_claims(user.id, sid=sid), TEST_SECRET_KEY, kid=key_id(NEW_KEY))
    async with app_with_keys(NEW_KEY, []) as client:
        assert_invalid_token(await me(client, old))
        assert_invalid_token(await me(client, old_renamed))
        assert (
            await me(client, sign_token(access_claims(user.id, sid=sid), NEW_KEY))
        ).status_code == 200
