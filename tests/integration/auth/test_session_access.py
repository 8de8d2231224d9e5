"""Access tokens carry their session (`sid`): ending the session ends its access tokens at
once (logout, reuse detection, deactivation), and reactivating a user revives nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from pytest_mock import MockerFixture
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from src.core import prepared
from src.models.user import User
from tests.support.factories import (
    Headers,
    MakeUser,
    bearer,
    password_grant,
    refresh_grant,
    sid_of,
    token_pair,
)

ME = "/api/v1/users/me"
LOGOUT_URL = "/api/v1/auth/logout"


async def works(client: httpx.AsyncClient, access_token: str) -> bool:
    response = await client.get(ME, headers=bearer(access_token))
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert response.json()["type"] == "/problems/unauthorized"
        return False
    assert response.status_code == 200, response.text
    return True


async def family_revoked(connection: AsyncConnection, sid: str) -> bool:
    rows = await connection.execute(
        text("SELECT revoked_at IS NOT NULL FROM refresh_sessions WHERE family_id = :f"),
        {"f": sid},
    )
    states = set(rows.scalars())
    assert len(states) == 1, states  # a family is revoked as a whole, or not at all
    return bool(states.pop())


async def test_access_tokens_name_their_session(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    first = await token_pair(client, user.email)
    rotated = (await refresh_grant(client, first["refresh_token"])).json()
    other = await token_pair(client, user.email)
    assert sid_of(first["access_token"]) == sid_of(rotated["access_token"])
    assert sid_of(first["access_token"]) != sid_of(other["access_token"])


# ---------------------------------------------------------------- logout


async def test_logout_ends_the_sessions_access_tokens_at_once(
    client: httpx.AsyncClient, make_user: MakeUser, connection: AsyncConnection
) -> None:
    user = await make_user()
    kept = await token_pair(client, user.email)
    ended = await token_pair(client, user.email)
    rotated = (await refresh_grant(client, ended["refresh_token"])).json()
    assert await works(client, ended["access_token"])
    response = await client.post(LOGOUT_URL, json={"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 204
    # Both access tokens of the ended session stop, before they expire...
    assert not await works(client, ended["access_token"])
    assert not await works(client, rotated["access_token"])
    assert await family_revoked(connection, sid_of(ended["access_token"]))
    # ...and the user's other session goes on.
    assert await works(client, kept["access_token"])
    assert not await family_revoked(connection, sid_of(kept["access_token"]))
    assert (await refresh_grant(client, kept["refresh_token"])).status_code == 200


async def test_logout_with_an_unknown_token_ends_no_access_token(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    response = await client.post(LOGOUT_URL, json={"refresh_token": pair["access_token"]})
    assert response.status_code == 204
    assert await works(client, pair["access_token"])


async def test_an_expired_session_ends_its_access_tokens(
    client: httpx.AsyncClient, make_user: MakeUser, connection: AsyncConnection
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    await connection.execute(
        text(
            "UPDATE refresh_sessions SET expires_at = now() - interval '1 second'"
            " WHERE family_id = :f"
        ),
        {"f": sid_of(pair["access_token"])},
    )
    assert not await works(client, pair["access_token"])


@contextlib.contextmanager
def listening(connection: AsyncConnection, callback: Callable[..., None]) -> Iterator[None]:
    """Call `callback` before every statement the test's connection executes."""
    engine = connection.sync_engine
    event.listen(engine, "before_cursor_execute", callback)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", callback)


async def test_the_user_and_session_check_is_one_query(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    connection: AsyncConnection,
    mocker: MockerFixture,
) -> None:
    user = await make_user()
    access_token = (await token_pair(client, user.email))["access_token"]
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    # Statements through SQLAlchemy, and those run on the driver (src.core.prepared).
    on_driver = mocker.spy(prepared, "_run")
    with listening(connection, record):
        assert await works(client, access_token)
    statements += [call.args[3].sql for call in on_driver.call_args_list]
    assert len(statements) == 1, statements
    assert "users" in statements[0]
    assert "refresh_sessions" in statements[0]


# ---------------------------------------------------------------- deactivation


async def test_reactivation_does_not_revive_old_access_tokens(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    admin_headers: Headers,
    connection: AsyncConnection,
) -> None:
    user = await make_user()
    laptop = await token_pair(client, user.email)
    phone = await token_pair(client, user.email)
    url = f"/api/v1/users/{user.id}"
    assert (await client.patch(url, json={"is_active": False}, headers=admin_headers)).is_success
    assert not await works(client, laptop["access_token"])
    assert (await client.patch(url, json={"is_active": True}, headers=admin_headers)).is_success
    for session in (laptop, phone):
        assert not await works(client, session["access_token"])
        assert (await refresh_grant(client, session["refresh_token"])).status_code == 400
        assert await family_revoked(connection, sid_of(session["access_token"]))
    # The user is back: a new login works, and only the new session does.
    fresh = await token_pair(client, user.email)
    assert await works(client, fresh["access_token"])
    assert not await works(client, laptop["access_token"])


async def test_reactivation_after_a_deactivation_outside_the_api_revives_nothing(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    admin_headers: Headers,
    connection: AsyncConnection,
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    # An operator's SQL deactivates without ending sessions; the API reactivates.
    await connection.execute(update(User).where(User.id == user.id).values(is_active=False))
    assert not await works(client, pair["access_token"])
    url = f"/api/v1/users/{user.id}"
    assert (await client.patch(url, json={"is_active": True}, headers=admin_headers)).is_success
    assert not await works(client, pair["access_token"])
    assert (await refresh_grant(client, pair["refresh_token"])).status_code == 400
    assert (await password_grant(client, user.email)).status_code == 200


async def test_other_admin_changes_keep_the_sessions(
    client: httpx.AsyncClient, make_user: MakeUser, admin_headers: Headers
) -> None:
    user = await make_user()
    pair = await token_pair(client, user.email)
    url = f"/api/v1/users/{user.id}"
    for change in ({"is_active": True}, {"full_name": "Renamed"}, {"role": "clerk"}):
        assert (await client.patch(url, json=change, headers=admin_headers)).is_success
        assert await works(client, pair["access_token"])
    assert (await refresh_grant(client, pair["refresh_token"])).status_code == 200
