"""Sessions across tabs: within REFRESH_REUSE_GRACE_SECONDS a replay of the immediately
previous refresh token returns the same successor; an older token of the family, or a
replay after the window, still revokes the whole session (and its access tokens)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from src.core.tokens import hash_refresh_token
from src.main import create_app
from tests.support.apps import client_beside
from tests.support.factories import MakeUser, bearer, refresh_grant, sid_of, token_pair
from tests.support.servers import in_process
from tests.support.settings import make_settings

Pair = dict[str, Any]
ClientWithGrace = Callable[[float], AbstractAsyncContextManager[httpx.AsyncClient]]
LOGOUT_URL = "/api/v1/auth/logout"


async def works(client: httpx.AsyncClient, access_token: str) -> bool:
    response = await client.get("/api/v1/users/me", headers=bearer(access_token))
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


async def refreshed(client: httpx.AsyncClient, refresh_token: str) -> Pair:
    response = await refresh_grant(client, refresh_token)
    assert response.status_code == 200, response.text
    body: Pair = response.json()
    return body


async def refused(client: httpx.AsyncClient, refresh_token: str) -> bool:
    response = await refresh_grant(client, refresh_token)
    if response.status_code == 400:
        assert response.json()["error"] == "invalid_grant"
        return True
    assert response.status_code == 200, response.text
    return False


async def assert_session_ended(
    client: httpx.AsyncClient, refresh_tokens: list[str], access_tokens: list[str]
) -> None:
    for token in refresh_tokens:
        assert await refused(client, token)
    for token in access_tokens:
        assert not await works(client, token)


async def family_rows(connection: AsyncConnection, sid: str) -> list[Any]:
    result = await connection.execute(
        text(
            "SELECT token_hash, used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS revoked"
            " FROM refresh_sessions WHERE family_id = :f ORDER BY created_at, used_at"
        ),
        {"f": sid},
    )
    return list(result.all())


@pytest.fixture
def client_with_grace(database_url: str, tmp_path: Path, app: FastAPI) -> ClientWithGrace:
    """A client on an app with another grace window, on the test's connection."""

    @asynccontextmanager
    async def build(grace: float) -> AsyncIterator[httpx.AsyncClient]:
        settings = make_settings(database_url, tmp_path, refresh_reuse_grace_seconds=grace)
        async with client_beside(app, settings) as client:
            yield client

    return build


# ---------------------------------------------------------------- within the window


async def test_a_replay_within_the_window_returns_the_same_successor(
    client: httpx.AsyncClient, make_user: MakeUser, connection: AsyncConnection
) -> None:
    user = await make_user()
    login = await token_pair(client, user.email)
    tab_a = await refreshed(client, login["refresh_token"])
    tab_b = await refreshed(client, login["refresh_token"])
    assert tab_b["refresh_token"] == tab_a["refresh_token"]
    assert tab_b["access_token"] != tab_a["access_token"]
    assert sid_of(tab_b["access_token"]) == sid_of(login["access_token"])
    for access_token in (login["access_token"], tab_a["access_token"], tab_b["access_token"]):
        assert await works(client, access_token)
    # Only hashes are stored, and the replay added no row: the login's, used, and its
    # successor's, unused.
    rows = await family_rows(connection, sid_of(login["access_token"]))
    assert [(r.token_hash, r.used, r.revoked) for r in rows] == [
        (hash_refresh_token(login["refresh_token"]), True, False),
        (hash_refresh_token(tab_a["refresh_token"]), False, False),
    ]
    # The successor is a normal refresh token: it rotates once.
    nxt = await refreshed(client, tab_a["refresh_token"])
    assert nxt["refresh_token"] not in (login["refresh_token"], tab_a["refresh_token"])
    assert await works(client, nxt["access_token"])


async def test_only_the_immediately_previous_token_gets_grace(
    client: httpx.AsyncClient, make_user: MakeUser, connection: AsyncConnection
) -> None:
    user = await make_user()
    login = await token_pair(client, user.email)
    first = await refreshed(client, login["refresh_token"])
    second = await refreshed(client, first["refresh_token"])  # tab A refreshed twice
    # The token just before the current one still gets the current one back...
    again = await refreshed(client, first["refresh_token"])
    assert again["refresh_token"] == second["refresh_token"]
    # ...but the login's token is older: presenting it, even within the window, ends it all.
    assert await refused(client, login["refresh_token"])
    await assert_session_ended(
        client,
        [second["refresh_token"], first["refresh_token"]],
        [t["access_token"] for t in (login, first, second, again)],
    )
    rows = await family_rows(connection, sid_of(login["access_token"]))
    assert len(rows) == 3
    assert all(r.revoked for r in rows)


async def test_a_replay_after_logout_revives_nothing(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    login = await token_pair(client, user.email)
    rotated = await refreshed(client, login["refresh_token"])
    response = await client.post(LOGOUT_URL, json={"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 204
    assert await refused(client, login["refresh_token"])
    await assert_session_ended(
        client, [rotated["refresh_token"]], [login["access_token"], rotated["access_token"]]
    )


async def test_a_replay_for_a_deactivated_user_is_refused(
    client: httpx.AsyncClient, make_user: MakeUser, connection: AsyncConnection
) -> None:
    user = await make_user()
    login = await token_pair(client, user.email)
    rotated = await refreshed(client, login["refresh_token"])
    await connection.execute(
        text("UPDATE users SET is_active = false WHERE id = :u"), {"u": user.id}
    )
    assert await refused(client, login["refresh_token"])
    assert await refused(client, rotated["refresh_token"])


# ---------------------------------------------------------------- after the window


async def test_a_replay_after_the_window_revokes_the_family(
    client_with_grace: ClientWithGrace, make_user: MakeUser, connection: AsyncConnection
) -> None:
    user = await make_user()
    async with client_with_grace(0.3) as client:
        login = await token_pair(client, user.email)
        other = await token_pair(client, user.email)
        rotated = await refreshed(client, login["refresh_token"])
        await asyncio.sleep(0.4)
        assert await refused(client, login["refresh_token"])
        await assert_session_ended(
            client, [rotated["refresh_token"]], [login["access_token"], rotated["access_token"]]
        )
        rows = await family_rows(connection, sid_of(login["access_token"]))
        assert rows
        assert all(r.revoked for r in rows)
        # The user's other session is untouched.
        assert await works(client, other["access_token"])
        assert not await refused(client, other["refresh_token"])


async def test_a_zero_window_turns_grace_off(
    client_with_grace: ClientWithGrace, make_user: MakeUser
) -> None:
    user = await make_user()
    async with client_with_grace(0) as client:
        login = await token_pair(client, user.email)
        rotated = await refreshed(client, login["refresh_token"])
        assert await refused(client, login["refresh_token"])
        await assert_session_ended(
            client, [rotated["refresh_token"]], [login["access_token"], rotated["access_token"]]
        )


# ---------------------------------------------------------------- two tabs at once

RACE_GRACE = 3.0


@pytest.fixture
async def race_client(
    committed_database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """Real commits, so concurrent refreshes really race, with a window short enough to
    wait out."""
    settings = make_settings(
        committed_database_url, tmp_path, refresh_reuse_grace_seconds=RACE_GRACE
    )
    app = create_app(settings)
    async with in_process(app) as client:
        yield client


async def race(client: httpx.AsyncClient, refresh_token: str, racers: int) -> list[Pair]:
    responses = await asyncio.gather(*(refresh_grant(client, refresh_token) for _ in range(racers)))
    assert [r.status_code for r in responses] == [200] * racers, [r.text for r in responses]
    return [r.json() for r in responses]


@pytest.mark.slow
@pytest.mark.parametrize("racers", [2, 8])
async def test_concurrent_refreshes_with_one_token_all_stay_logged_in(
    race_client: httpx.AsyncClient,
    committed_make_user: MakeUser,
    committed_engine: AsyncEngine,
    racers: int,
) -> None:
    user = await committed_make_user()
    login = await token_pair(race_client, user.email)
    tabs = await race(race_client, login["refresh_token"], racers)
    # The window runs from the rotation, somewhere inside the race: count from its end.
    raced = time.monotonic()
    # Every tab got the same successor and its own working access token.
    assert {t["refresh_token"] for t in tabs} == {tabs[0]["refresh_token"]}
    assert len({t["access_token"] for t in tabs}) == racers
    for tab in tabs:
        assert await works(race_client, tab["access_token"])
    async with committed_engine.connect() as connection:
        rows = await family_rows(connection, sid_of(login["access_token"]))
    assert [(r.used, r.revoked) for r in rows] == [(True, False), (False, False)]
    assert rows[1].token_hash == hash_refresh_token(tabs[0]["refresh_token"])
    # After the window the login's token is a stolen token: it ends the session.
    await asyncio.sleep(max(0.0, RACE_GRACE - (time.monotonic() - raced)) + 0.2)
    assert await refused(race_client, login["refresh_token"])
    await assert_session_ended(
        race_client,
        [tabs[0]["refresh_token"]],
        [login["access_token"], *(t["access_token"] for t in tabs)],
    )


async def test_after_a_race_the_successor_rotates_and_the_old_token_is_older(
    race_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    user = await committed_make_user()
    login = await token_pair(race_client, user.email)
    tabs = await race(race_client, login["refresh_token"], 2)
    nxt = await refreshed(race_client, tabs[0]["refresh_token"])
    assert await works(race_client, nxt["access_token"])
    assert await refused(race_client, login["refresh_token"])
    await assert_session_ended(
        race_client,
        [nxt["refresh_token"]],
        [nxt["access_token"], *(t["access_token"] for t in tabs)],
    )
