"""Test data: keyword-only async factories that write through the test's connection."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from src.core.tokens import key_id
from src.models.user import Role, User

DEFAULT_PASSWORD = "Sturdy-Passw0rd-for-tests"
# Argon2id memory (KiB) and passes for the suite's passwords: every test app is configured
# with it (the cost itself is tested apart).
TEST_HASH_COST = (64, 1)
_TEST_HASHER = PasswordHash(
    (Argon2Hasher(memory_cost=TEST_HASH_COST[0], time_cost=TEST_HASH_COST[1]),)
)
_DEFAULT_HASHER = PasswordHash.recommended()
_hash_cache: dict[str, str] = {}
# Request headers, such as a login's Authorization.
Headers = dict[str, str]
# The `make_user` fixtures: keyword arguments of `create_user`, a new user.
MakeUser = Callable[..., Awaitable[User]]
# The `committed_login` fixture: a new committed user of the role, logged in.
CommittedLogin = Callable[[Role], Awaitable[Headers]]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def _hashed(password: str) -> str:
    # At the suite's Argon2id cost (a login verifies at the stored hash's own cost, whatever
    # the app's settings), and once per distinct password.
    if password not in _hash_cache:
        _hash_cache[password] = await asyncio.to_thread(_TEST_HASHER.hash, password)
    return _hash_cache[password]


async def create_user(
    connection: AsyncConnection,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    full_name: str = "Test User",
    role: Role = Role.VIEWER,
    is_active: bool = True,
    full_cost: bool = False,
) -> User:
    """A user whose password is hashed at the suite's cost, or with `full_cost` at the
    service's default (for tests that need a login to take real time)."""
    hashed = (
        await asyncio.to_thread(_DEFAULT_HASHER.hash, password)
        if full_cost
        else await _hashed(password)
    )
    async with AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        user = User(
            email=email or unique_email(role.value),
            hashed_password=hashed,
            full_name=full_name,
            role=role,
            is_active=is_active,
        )
        session.add(user)
        await session.commit()
        return user


async def committed_users(database_url: str, *roles: Role) -> list[User]:
    """New users of these roles, one each, committed on `database_url` through an engine of
    their own (for an app on a database of its own)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            return [await create_user(connection, role=role) for role in roles]
    finally:
        await engine.dispose()


async def token_pair(
    client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login_headers(
    client: httpx.AsyncClient, user: User, password: str = DEFAULT_PASSWORD
) -> dict[str, str]:
    return bearer((await token_pair(client, user.email, password))["access_token"])


async def committed_headers(
    engine: AsyncEngine, client: httpx.AsyncClient, role: Role
) -> dict[str, str]:
    """A new user of `role`, committed (for an app on a database of its own), logged in."""
    async with engine.begin() as connection:
        user = await create_user(connection, role=role)
    return await login_headers(client, user)


def sid_of(access_token: str) -> str:
    """The session an access token belongs to (its `sid` claim)."""
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


# ------------------------------------------------------------------ hand-made access tokens
TOKEN_ISSUER = "stockroom"
TOKEN_AUDIENCE = "stockroom-api"


def access_claims(subject: object, **overrides: object) -> dict[str, Any]:
    """The claims of a well-formed access token for `subject`, valid for 15 minutes from now.

    Pass a claim as an override to change it, or as `None` to leave it out.
    """
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(subject),
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "type": "access",
        # A session id; tokens sent to a server must name a live one (pass `sid=`).
        "sid": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign_token(
    claims: dict[str, Any],
    key: str,
    *,
    algorithm: str = "HS256",
    kid: str | None = None,
    with_kid: bool = True,
) -> str:
    """A JWT signed with PyJWT; `kid` defaults to the server's name for `key`."""
    headers = {"kid": kid or key_id(key)} if with_kid else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned_token(claims: dict[str, Any], *, kid: str) -> str:
    """An `alg: none` token, built by hand (PyJWT refuses to make one with a key id)."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{b64url_json(header)}.{b64url_json(claims)}."


# ------------------------------------------------------------------ the token endpoint
TOKEN_URL = "/api/v1/auth/token"


async def password_grant(
    client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> httpx.Response:
    """POST /auth/token with grant_type=password; the raw response, whatever its status."""
    return await client.post(
        TOKEN_URL, data={"grant_type": "password", "username": email, "password": password}
    )


async def refresh_grant(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    """POST /auth/token with grant_type=refresh_token; the raw response, whatever its status."""
    return await client.post(
        TOKEN_URL, data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


async def add_expired_sessions(connection: AsyncConnection, user: User, count: int) -> None:
    """`count` refresh sessions of `user` that expired an hour ago, token hashes `hash-1`..,
    committed: for the purges to find."""
    await connection.execute(
        text(
            "INSERT INTO refresh_sessions (id, user_id, family_id, token_hash, expires_at)"
            " SELECT gen_random_uuid(), CAST(:user AS uuid), gen_random_uuid(),"
            " 'hash-' || n, now() - interval '1 hour' FROM generate_series(1, :count) AS n"
        ),
        {"user": str(user.id), "count": count},
    )
    await connection.commit()
