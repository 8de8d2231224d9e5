"""Test data: keyword-only async factories that write through the test's connection."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from src.core.passwords import hash_password
from src.models.user import Role, User

DEFAULT_PASSWORD = "Sturdy-Passw0rd-for-tests"
_hash_cache: dict[str, str] = {}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def _hashed(password: str) -> str:
    # Argon2 costs ~0.1 s per hash; tests reuse one hash per distinct password.
    if password not in _hash_cache:
        _hash_cache[password] = await hash_password(password)
    return _hash_cache[password]


async def create_user(
    connection: AsyncConnection,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    full_name: str = "Test User",
    role: Role = Role.VIEWER,
    is_active: bool = True,
) -> User:
    async with AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        user = User(
            email=email or unique_email(role.value),
            hashed_password=await _hashed(password),
            full_name=full_name,
            role=role,
            is_active=is_active,
        )
        session.add(user)
        await session.commit()
        return user


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
