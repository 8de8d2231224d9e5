"""Checking passwords cannot be used as an oracle or to starve the service.

POST /users/me/password is throttled like login (per user and client address); no pooled
connection or row lock is held while Argon2 runs; concurrent hashing is bounded process-wide
(PASSWORD_HASH_CONCURRENCY), and a request that waits longer than
PASSWORD_HASH_MAX_WAIT_SECONDS for its turn gets 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.main import create_app
from tests.support.factories import DEFAULT_PASSWORD, MakeUser, bearer, token_pair, unique_email
from tests.support.logins import ACCOUNT_LIMIT, WRONG, assert_rate_limited, client_for, login
from tests.support.settings import make_settings

URL = "/api/v1/users/me/password"
NEW = "a brand new passphrase"


def change(current: str, new: str = NEW) -> dict[str, str]:
    return {"current_password": current, "new_password": new}


async def test_the_sixth_guess_is_refused_even_when_right(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    tokens = await token_pair(client, user.email)
    headers = bearer(tokens["access_token"])
    for _ in range(ACCOUNT_LIMIT):
        response = await client.post(URL, json=change(WRONG), headers=headers)
        assert response.status_code == 422, response.text
    assert_rate_limited(await client.post(URL, json=change(DEFAULT_PASSWORD), headers=headers))
    # Nothing changed: the old password still works, the new one does not, and the session
    # was not ended.
    assert (await login(client, user.email, NEW)).status_code == 400
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200


async def test_the_limit_is_per_client_address(
    app: FastAPI, client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    tokens = await token_pair(client, user.email)
    headers = bearer(tokens["access_token"])
    for _ in range(ACCOUNT_LIMIT):
        assert (await client.post(URL, json=change(WRONG), headers=headers)).status_code == 422
    async with client_for(app, "203.0.113.7") as elsewhere:
        response = await elsewhere.post(URL, json=change(DEFAULT_PASSWORD), headers=headers)
    assert response.status_code == 204, response.text
    assert (await login(client, user.email, NEW)).status_code == 200
    refreshed = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400


async def test_a_successful_change_does_not_spend_the_budget(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    passwords = [DEFAULT_PASSWORD] + [f"passphrase number {n} here" for n in range(ACCOUNT_LIMIT)]
    for current, new in itertools.pairwise(passwords):
        headers = bearer((await token_pair(client, user.email, current))["access_token"])
        response = await client.post(URL, json=change(current, new), headers=headers)
        assert response.status_code == 204, response.text
    assert (await login(client, user.email, passwords[-1])).status_code == 200


@pytest.mark.slow
async def test_wrong_guesses_do_not_starve_other_users(
    committed_database_url: str, tmp_path: Path, committed_make_user: MakeUser
) -> None:
    """40 concurrent wrong guesses on a two-connection pool: other users' reads all succeed."""
    # At the default Argon2 cost each guess takes real time, as an attacker's would.
    guesser = await committed_make_user(email=unique_email("guesser"), full_cost=True)
    others = [await committed_make_user(email=unique_email("reader")) for _ in range(3)]
    settings = make_settings(
        committed_database_url,
        tmp_path,
        db_pool_size=2,
        db_max_overflow=0,
        db_pool_timeout=3,
        login_rate_limit_per_account="1000/minute",
        login_rate_limit_per_client="1000/minute",
        password_hash_concurrency=2,
        password_hash_max_wait_seconds=60,
        password_hash_memory_kib=65536,
        password_hash_time_cost=3,
    )
    app = create_app(settings)
    async with LifespanManager(app), client_for(app) as client:
        guesser_headers = bearer((await token_pair(client, guesser.email))["access_token"])
        reader_headers = [
            bearer((await token_pair(client, o.email))["access_token"]) for o in others
        ]

        async def guess() -> int:
            response = await client.post(URL, json=change(WRONG), headers=guesser_headers)
            return response.status_code

        async def reads(headers: dict[str, str]) -> list[int]:
            statuses = []
            for _ in range(8):
                statuses.append((await client.get("/api/v1/users/me", headers=headers)).status_code)
                await asyncio.sleep(0.05)
            return statuses

        guesses = asyncio.gather(*(guess() for _ in range(40)))
        read_results = await asyncio.gather(*(reads(h) for h in reader_headers))
        guess_statuses = await guesses
    assert all(status == 200 for statuses in read_results for status in statuses), read_results
    assert set(guess_statuses) == {422}, guess_statuses


async def test_a_full_hashing_queue_answers_429_with_retry_after(
    committed_database_url: str, tmp_path: Path, committed_make_user: MakeUser
) -> None:
    # Each check takes real time only at the default cost.
    user = await committed_make_user(email=unique_email("queue"), full_cost=True)
    settings = make_settings(
        committed_database_url,
        tmp_path,
        password_hash_concurrency=1,
        password_hash_max_wait_seconds=0.01,
    )
    app = create_app(settings)
    async with LifespanManager(app):

        async def attempt(n: int) -> httpx.Response:
            async with client_for(app, f"192.0.2.{n}") as client:
                return await login(client, user.email, WRONG)

        responses = await asyncio.gather(*(attempt(n) for n in range(1, 9)))
        statuses = sorted(r.status_code for r in responses)
        assert 400 in statuses, statuses
        assert 429 in statuses, statuses
        for response in responses:
            if response.status_code == 429:
                assert_rate_limited(response)
        # The queue drains: the owner gets in afterwards.
        async with client_for(app, "192.0.2.200") as client:
            assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200


async def test_two_changes_at_once_never_lose_one(
    committed_app: FastAPI, committed_make_user: MakeUser
) -> None:
    """Both check the same current password; the hash is re-checked before writing, so one
    wins and the other is refused: 409, or 422 when it read the new hash already, or 401 when
    it was authenticated after the winner committed (a password change ends the credentials
    issued before it)."""
    user = await committed_make_user(email=unique_email("race"))
    first, second = "first new passphrase", "second new passphrase"
    async with client_for(committed_app) as client:
        headers = bearer((await token_pair(client, user.email))["access_token"])
        responses = await asyncio.gather(
            client.post(URL, json=change(DEFAULT_PASSWORD, first), headers=headers),
            client.post(URL, json=change(DEFAULT_PASSWORD, second), headers=headers),
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(204) == 1, statuses
        assert set(statuses) - {204} <= {401, 409, 422}, statuses
        winner = first if statuses[0] == 204 else second
        loser = second if winner == first else first
        assert (await login(client, user.email, winner)).status_code == 200
        assert (await login(client, user.email, loser)).status_code == 400
        assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 400
