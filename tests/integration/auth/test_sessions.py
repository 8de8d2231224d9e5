"""Sessions: refresh-token rotation and reuse detection, logout, password change, and
deactivation or role changes taking effect at once (refresh races and the grace window:
test_refresh_grace)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from src.models.user import Role, User
from tests.support.factories import (
    DEFAULT_PASSWORD,
    Headers,
    MakeUser,
    bearer,
    password_grant,
    refresh_grant,
    token_pair,
)

LOGOUT_URL = "/api/v1/auth/logout"
PASSWORD_URL = "/api/v1/users/me/password"
NEW_PASSWORD = "Fresh-Sturdy-Passw0rd-2"


def assert_invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    assert response.headers["cache-control"] == "no-store"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


def assert_invalid_token(response: httpx.Response) -> None:
    assert_problem(response, 401, "unauthorized")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


# ---------------------------------------------------------------- rotation


async def test_refresh_rotates_the_pair(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    user = await make_user()
    first = await token_pair(client, user.email)
    response = await refresh_grant(client, first["refresh_token"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert second["token_type"] == "bearer"
    assert second["expires_in"] == 900
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    me = await client.get("/api/v1/users/me", headers=bearer(second["access_token"]))
    assert me.json()["id"] == str(user.id)
    # Once its successor has rotated too, the old token is refused (a replay before that, within
    # REFRESH_REUSE_GRACE_SECONDS, gets the same successor back: test_refresh_grace).
    assert (await refresh_grant(client, second["refresh_token"])).status_code == 200
    assert_invalid_grant(await refresh_grant(client, first["refresh_token"]))


async def test_tokens_are_not_interchangeable(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    assert_invalid_grant(await refresh_grant(client, pair["access_token"]))
    assert_invalid_token(
        await client.get("/api/v1/users/me", headers=bearer(pair["refresh_token"]))
    )


async def test_reusing_a_rotated_token_revokes_the_family(
    committed_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    user = await committed_make_user()
    stolen = await token_pair(committed_client, user.email)
    other_session = await token_pair(committed_client, user.email)
    rotated = await refresh_grant(committed_client, stolen["refresh_token"])
    assert rotated.status_code == 200
    current = await refresh_grant(committed_client, rotated.json()["refresh_token"])
    assert current.status_code == 200
    # An older token than the last one replaced, so no grace: its reuse is a theft...
    assert_invalid_grant(await refresh_grant(committed_client, stolen["refresh_token"]))
    # ...that ended the whole session (committed, though the request failed), including the
    # tokens the rotations handed out...
    assert_invalid_grant(await refresh_grant(committed_client, current.json()["refresh_token"]))
    assert_invalid_token(
        await committed_client.get(
            "/api/v1/users/me", headers=bearer(current.json()["access_token"])
        )
    )
    # ...but not the user's other sessions.
    assert (
        await refresh_grant(committed_client, other_session["refresh_token"])
    ).status_code == 200


# ---------------------------------------------------------------- logout


async def test_logout_ends_that_session_only(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    kept = await token_pair(client, user.email)
    ended = await token_pair(client, user.email)
    response = await client.post(LOGOUT_URL, json={"refresh_token": ended["refresh_token"]})
    assert response.status_code == 204
    assert response.content == b""
    assert_invalid_grant(await refresh_grant(client, ended["refresh_token"]))
    assert (await refresh_grant(client, kept["refresh_token"])).status_code == 200


async def test_logout_with_an_old_token_ends_its_family(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    first = await token_pair(client, user.email)
    current = (await refresh_grant(client, first["refresh_token"])).json()
    response = await client.post(LOGOUT_URL, json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 204
    assert_invalid_grant(await refresh_grant(client, current["refresh_token"]))


async def test_logout_with_an_unknown_token_is_204(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGOUT_URL, json={"refresh_token": "never-issued-token"})
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        pytest.param({}, "missing", id="missing-field"),
        pytest.param({"refresh_token": ""}, "string_too_short", id="empty-token"),
        pytest.param({"refresh_token": "x", "all": True}, "extra_forbidden", id="extra-field"),
    ],
)
async def test_bad_logout_bodies_are_422(
    client: httpx.AsyncClient, body: dict[str, object], error_type: str
) -> None:
    response = await client.post(LOGOUT_URL, json=body)
    problem = assert_problem(response, 422, "validation-error")
    assert error_type in {e["type"] for e in problem["errors"]}


# ---------------------------------------------------------------- password change


async def test_password_change_ends_every_session(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    laptop = await token_pair(client, user.email)
    phone = await token_pair(client, user.email)
    response = await client.post(
        PASSWORD_URL,
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(laptop["access_token"]),
    )
    assert response.status_code == 204
    for session in (laptop, phone):
        assert_invalid_grant(await refresh_grant(client, session["refresh_token"]))
        assert_invalid_token(
            await client.get("/api/v1/users/me", headers=bearer(session["access_token"]))
        )
    assert_invalid_grant(await password_grant(client, user.email, DEFAULT_PASSWORD))
    fresh = await password_grant(client, user.email, NEW_PASSWORD)
    assert fresh.status_code == 200
    # Issued right after the change (often within the same second): it must work.
    me = await client.get("/api/v1/users/me", headers=bearer(fresh.json()["access_token"]))
    assert me.status_code == 200


async def test_password_change_needs_the_current_password(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    response = await client.post(
        PASSWORD_URL,
        json={"current_password": "Not-My-Passw0rd-1", "new_password": NEW_PASSWORD},
        headers=bearer(pair["access_token"]),
    )
    problem = assert_problem(response, 422, "validation-error")
    assert [e["loc"] for e in problem["errors"]] == [["body", "current_password"]]
    assert "Not-My-Passw0rd-1" not in response.text
    # Nothing changed: the session lives on and the old password still logs in.
    assert (await refresh_grant(client, pair["refresh_token"])).status_code == 200
    assert (await password_grant(client, user.email)).status_code == 200


@pytest.mark.parametrize("weak", ["short1!", "password123", " " * 10, "x" * 129])
async def test_password_change_rejects_weak_passwords(
    client: httpx.AsyncClient, make_user: MakeUser, weak: str
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    response = await client.post(
        PASSWORD_URL,
        json={"current_password": DEFAULT_PASSWORD, "new_password": weak},
        headers=bearer(pair["access_token"]),
    )
    problem = assert_problem(response, 422, "validation-error")
    assert [e["loc"] for e in problem["errors"]] == [["body", "new_password"]]
    assert (await refresh_grant(client, pair["refresh_token"])).status_code == 200


async def test_password_change_needs_authentication(client: httpx.AsyncClient) -> None:
    body = {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    response = await client.post(PASSWORD_URL, json=body)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    response = await client.post(PASSWORD_URL, json=body, headers=bearer("not.a.jwt"))
    assert_invalid_token(response)


@contextlib.asynccontextmanager
async def parked_session_inserts(
    engine: AsyncEngine, user_id: uuid.UUID
) -> AsyncIterator[AsyncConnection]:
    """Make every refresh-session INSERT for this user wait (after the refresh grant has
    claimed the old token) on an advisory lock this connection holds until it releases it:
    an exact interleaving instead of a timed one. Yields the lock-holding connection."""
    name, key = f"park_{user_id.hex}", user_id.int % 2**62
    async with engine.connect() as raw:
        holder = await raw.execution_options(isolation_level="AUTOCOMMIT")
        await holder.execute(
            text(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS"
                f" $$ BEGIN PERFORM pg_advisory_xact_lock_shared({key}); RETURN NEW; END $$"
            )
        )
        await holder.execute(
            text(
                f"CREATE TRIGGER {name} BEFORE INSERT ON refresh_sessions FOR EACH ROW"
                f" WHEN (NEW.user_id = '{user_id}') EXECUTE FUNCTION {name}()"
            )
        )
        await holder.execute(text(f"SELECT pg_advisory_lock({key})"))
        try:
            yield holder
        finally:
            await holder.execute(text("SELECT pg_advisory_unlock_all()"))
            await holder.execute(text(f"DROP TRIGGER {name} ON refresh_sessions"))
            await holder.execute(text(f"DROP FUNCTION {name}()"))


async def wait_for_locks(
    holder: AsyncConnection, ready: Callable[[list[str]], bool], what: str
) -> None:
    """Poll what the other backends of this database wait for until `ready` says so."""
    query = text(
        "SELECT wait_event FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    for _ in range(500):
        if ready([row[0] for row in await holder.execute(query)]):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


async def test_password_change_ends_a_session_that_is_refreshing_right_now(
    committed_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    committed_engine: AsyncEngine,
) -> None:
    user = await committed_make_user()
    stolen = await token_pair(committed_client, user.email)
    owner = await token_pair(committed_client, user.email)
    async with parked_session_inserts(committed_engine, user.id) as holder:
        refreshing = asyncio.create_task(refresh_grant(committed_client, stolen["refresh_token"]))
        await wait_for_locks(holder, lambda waits: "advisory" in waits, "the refresh is parked")
        changing = asyncio.create_task(
            committed_client.post(
                PASSWORD_URL,
                json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
                headers=bearer(owner["access_token"]),
            )
        )
        await wait_for_locks(
            holder,
            lambda waits: changing.done() or any(w != "advisory" for w in waits),
            "the password change blocks or ends",
        )
        await holder.execute(text("SELECT pg_advisory_unlock_all()"))
        refreshed, changed = await refreshing, await changing
    assert changed.status_code == 204
    handed_out = [refreshed.json()["refresh_token"]] if refreshed.status_code == 200 else []
    for token in [stolen["refresh_token"], owner["refresh_token"], *handed_out]:
        assert_invalid_grant(await refresh_grant(committed_client, token))


# ---------------------------------------------------------------- deactivation and roles


async def test_deactivation_takes_effect_at_once(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin_headers
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert_invalid_token(await client.get("/api/v1/users/me", headers=bearer(pair["access_token"])))
    assert_invalid_grant(await refresh_grant(client, pair["refresh_token"]))
    assert_invalid_grant(await password_grant(client, user.email))


async def test_refresh_refuses_a_user_deactivated_outside_the_api(
    client: httpx.AsyncClient, make_user: MakeUser, connection: AsyncConnection
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    # E.g. an operator's SQL: the sessions are not revoked, the refresh grant must still say no.
    await connection.execute(update(User).where(User.id == user.id).values(is_active=False))
    assert_invalid_grant(await refresh_grant(client, pair["refresh_token"]))
    assert_invalid_token(await client.get("/api/v1/users/me", headers=bearer(pair["access_token"])))


async def test_reactivation_does_not_revive_old_sessions(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    url = f"/api/v1/users/{user.id}"
    assert (await client.patch(url, json={"is_active": False}, headers=admin_headers)).is_success
    assert (await client.patch(url, json={"is_active": True}, headers=admin_headers)).is_success
    assert_invalid_grant(await refresh_grant(client, pair["refresh_token"]))
    assert (await password_grant(client, user.email)).status_code == 200


async def test_role_changes_take_effect_at_once(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    user = await make_user(role=Role.VIEWER)
    headers = bearer((await token_pair(client, user.email))["access_token"])
    url = f"/api/v1/users/{user.id}"
    assert_problem(await client.get("/api/v1/users", headers=headers), 403, "forbidden")

    promoted = await client.patch(url, json={"role": "admin"}, headers=admin_headers)
    assert promoted.json()["role"] == "admin"
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 200

    demoted = await client.patch(url, json={"role": "viewer"}, headers=admin_headers)
    assert demoted.json()["role"] == "viewer"
    assert_problem(await client.get("/api/v1/users", headers=headers), 403, "forbidden")
    assert_problem(
        await client.patch(url, json={"role": "admin"}, headers=headers), 403, "forbidden"
    )
