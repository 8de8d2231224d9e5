"""Security events are audited although their requests fail: a failed login (the user's, or
an unknown account's by digest, never what was typed), a throttled login, and a refresh
token replayed (its session ended). Nothing else of such a request is kept."""

from __future__ import annotations

import hashlib
import json

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core.emails import lookup_email
from tests.support.audit import audit_rows
from tests.support.factories import MakeUser, refresh_grant, token_pair
from tests.support.logins import ACCOUNT_LIMIT, WRONG, assert_rate_limited, login


async def sessions_of(connection: AsyncConnection, user_id: object) -> int:
    found = await connection.scalar(
        text("SELECT count(*) FROM refresh_sessions WHERE user_id = :id"), {"id": user_id}
    )
    return int(found or 0)


async def test_a_wrong_password_writes_login_failed_and_nothing_else(
    client: httpx.AsyncClient, connection: AsyncConnection, make_user: MakeUser
) -> None:
    user = await make_user()
    response = await login(client, user.email, WRONG)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    (entry,) = await audit_rows(connection)
    assert entry["action"] == "auth.login_failed"
    assert (entry["entity_type"], entry["entity_id"]) == ("user", str(user.id))
    assert entry["actor"] is None
    assert entry["changes"] == {}
    assert entry["request_id"] == response.headers["x-request-id"]
    assert WRONG not in json.dumps({k: str(v) for k, v in entry.items()})
    assert await sessions_of(connection, user.id) == 0


async def test_an_unknown_account_is_named_by_its_digest(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    response = await login(client, "Nobody@Example.com", WRONG)
    assert response.status_code == 400
    (entry,) = await audit_rows(connection, action="auth.login_failed")
    digest = hashlib.sha256(lookup_email("Nobody@Example.com").encode()).hexdigest()
    assert (entry["entity_type"], entry["entity_id"]) == ("account", digest)
    assert "nobody" not in json.dumps({k: str(v) for k, v in entry.items()}).lower()


async def test_a_deactivated_account_with_its_password_fails_and_is_audited(
    client: httpx.AsyncClient, connection: AsyncConnection, make_user: MakeUser
) -> None:
    user = await make_user(is_active=False)
    response = await login(client, user.email, "Sturdy-Passw0rd-for-tests")
    assert response.status_code == 400
    (entry,) = await audit_rows(connection)
    assert (entry["action"], entry["entity_id"]) == ("auth.login_failed", str(user.id))
    assert await sessions_of(connection, user.id) == 0


async def test_a_successful_login_writes_no_entry(
    client: httpx.AsyncClient, connection: AsyncConnection, make_user: MakeUser
) -> None:
    user = await make_user()
    await token_pair(client, user.email)
    assert await audit_rows(connection) == []


async def test_a_throttled_login_is_audited(
    client: httpx.AsyncClient, connection: AsyncConnection, make_user: MakeUser
) -> None:
    user = await make_user()
    for _ in range(ACCOUNT_LIMIT):
        assert (await login(client, user.email, WRONG)).status_code == 400
    throttled = await login(client, user.email, WRONG)
    assert_rate_limited(throttled)
    failed = await audit_rows(connection, action="auth.login_failed")
    assert len(failed) == ACCOUNT_LIMIT
    (entry,) = await audit_rows(connection, action="auth.login_throttled")
    assert (entry["entity_type"], entry["entity_id"]) == ("user", str(user.id))
    assert entry["request_id"] == throttled.headers["x-request-id"]


async def test_a_replayed_refresh_token_is_audited_with_its_session(
    client: httpx.AsyncClient, connection: AsyncConnection, make_user: MakeUser
) -> None:
    user = await make_user()
    stolen = await token_pair(client, user.email)
    rotated = await refresh_grant(client, stolen["refresh_token"])
    assert rotated.status_code == 200
    assert (await refresh_grant(client, rotated.json()["refresh_token"])).status_code == 200
    assert await audit_rows(connection) == []  # rotations are no security event
    replayed = await refresh_grant(client, stolen["refresh_token"])
    assert replayed.status_code == 400
    (entry,) = await audit_rows(connection)
    assert entry["action"] == "auth.refresh_reused"
    assert (entry["entity_type"], entry["entity_id"]) == ("user", str(user.id))
    family = await connection.scalar(
        text("SELECT DISTINCT family_id FROM refresh_sessions WHERE user_id = :id"),
        {"id": user.id},
    )
    assert entry["changes"] == {"session": [str(family), None]}
    assert stolen["refresh_token"] not in json.dumps({k: str(v) for k, v in entry.items()})


async def test_an_unknown_refresh_token_writes_no_entry(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    assert (await refresh_grant(client, "not-a-token")).status_code == 400
    assert await audit_rows(connection) == []
