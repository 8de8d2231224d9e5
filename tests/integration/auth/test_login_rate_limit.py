"""Login throttling on POST /auth/token: per client address (every attempt counts) and per
account and client address (failed attempts count, charged before each attempt; a success
clears it); 429 `rate-limited` with `Retry-After`. The account-wide limit across addresses
and known addresses are in auth/test_lockout.py. With REDIS_URL the counts are shared by every
instance, and a Redis that is down fails closed (503) rather than letting guesses through
uncounted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.apps import RunningApp, app_beside
from tests.support.factories import DEFAULT_PASSWORD, MakeUser, unique_email
from tests.support.logins import ACCOUNT_LIMIT, WRONG, assert_rate_limited, client_for, login
from tests.support.settings import make_settings

TOKEN = "/api/v1/auth/token"
DEAD_REDIS = "redis://127.0.0.1:1/0"


async def fail(client: httpx.AsyncClient, email: str, times: int) -> None:
    for _ in range(times):
        response = await login(client, email, WRONG)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"


def random_address() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@pytest.fixture
def running_app(database_url: str, tmp_path: Path, app: FastAPI) -> RunningApp:
    """Another app instance (own settings, own limiter) on the test's connection, with its
    lifespan running: `async with running_app(**settings) as other`."""

    @asynccontextmanager
    async def build(**overrides: object) -> AsyncIterator[FastAPI]:
        async with app_beside(app, make_settings(database_url, tmp_path, **overrides)) as other:
            yield other

    return build


# ------------------------------------------------------------------ per account (in memory)


async def test_the_sixth_attempt_after_five_failures_is_refused(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    await fail(client, user.email, ACCOUNT_LIMIT)
    # Even the right password: the account is locked for the rest of the window.
    assert_rate_limited(await login(client, user.email, DEFAULT_PASSWORD))
    assert_rate_limited(await login(client, user.email, WRONG))


async def test_four_failures_still_allow_the_right_password(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    await fail(client, user.email, ACCOUNT_LIMIT - 1)
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200


async def test_another_account_is_not_affected(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    locked, other = await make_user(), await make_user()
    await fail(client, locked.email, ACCOUNT_LIMIT)
    assert_rate_limited(await login(client, locked.email, DEFAULT_PASSWORD))
    assert (await login(client, other.email, DEFAULT_PASSWORD)).status_code == 200


async def test_successful_logins_do_not_consume_the_account_budget(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    for _ in range(ACCOUNT_LIMIT + 3):
        response = await login(client, user.email, DEFAULT_PASSWORD)
        assert response.status_code == 200, response.text


async def test_the_account_is_counted_case_insensitively(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    for variant in (user.email.upper(), user.email, f"  {user.email.title()} ", user.email):
        assert (await login(client, variant, WRONG)).status_code == 400
    await fail(client, user.email.upper(), 1)
    assert_rate_limited(await login(client, user.email, DEFAULT_PASSWORD))


async def test_an_unknown_email_is_throttled_like_a_real_one(client: httpx.AsyncClient) -> None:
    # Otherwise the 429 (or its absence) would tell which emails have accounts.
    email = unique_email("nobody")
    await fail(client, email, ACCOUNT_LIMIT)
    assert_rate_limited(await login(client, email, WRONG))


async def test_a_deactivated_account_is_throttled_like_an_active_one(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(is_active=False)
    # The right password on a deactivated account is a failure too.
    for _ in range(ACCOUNT_LIMIT):
        assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 400
    assert_rate_limited(await login(client, user.email, DEFAULT_PASSWORD))


async def test_missing_credentials_do_not_count_against_an_account(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    for _ in range(ACCOUNT_LIMIT + 1):
        response = await client.post(TOKEN, data={"grant_type": "password", "username": user.email})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200


# ------------------------------------------------------------------ per client (in memory)


async def test_the_client_limit_counts_every_attempt(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    user, second = await make_user(), await make_user()
    async with (
        running_app(login_rate_limit_per_client="3/minute") as other,
        client_for(other) as client,
    ):
        assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200
        assert (await login(client, user.email, WRONG)).status_code == 400
        assert (await login(client, second.email, DEFAULT_PASSWORD)).status_code == 200
        # A fourth attempt from the same address, for any account, right password or not.
        assert_rate_limited(await login(client, second.email, DEFAULT_PASSWORD))
        assert_rate_limited(await login(client, unique_email(), WRONG))


async def test_another_client_address_is_still_allowed(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    user = await make_user()
    async with (
        running_app(login_rate_limit_per_client="3/minute") as other,
        client_for(other) as client,
    ):
        for _ in range(3):
            assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200
        assert_rate_limited(await login(client, user.email, DEFAULT_PASSWORD))
        # Same app instance (same counters), another peer address.
        async with client_for(other, "10.1.2.3") as elsewhere:
            assert (await login(elsewhere, user.email, DEFAULT_PASSWORD)).status_code == 200


async def test_x_forwarded_for_does_not_reset_the_client_limit(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    # No trusted proxy is configured: the peer address counts, whatever the header says.
    user = await make_user()
    async with (
        running_app(login_rate_limit_per_client="2/minute") as other,
        client_for(other) as client,
    ):
        for _ in range(2):
            assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200
        response = await client.post(
            TOKEN,
            data={"grant_type": "password", "username": user.email, "password": DEFAULT_PASSWORD},
            headers={"X-Forwarded-For": random_address(), "X-Real-IP": random_address()},
        )
        assert_rate_limited(response)


async def test_the_client_limit_does_not_stop_other_endpoints(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    user = await make_user()
    async with (
        running_app(login_rate_limit_per_client="1/minute") as other,
        client_for(other) as client,
    ):
        response = await login(client, user.email, DEFAULT_PASSWORD)
        assert response.status_code == 200
        assert_rate_limited(await login(client, user.email, DEFAULT_PASSWORD))
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200


# ------------------------------------------------------------------ shared counts in Redis


@pytest.mark.redis
async def test_instances_share_the_account_count_through_redis(
    redis_url: str, running_app: RunningApp, make_user: MakeUser
) -> None:
    user = await make_user(email=unique_email("shared"))
    address = random_address()
    async with AsyncExitStack() as stack:
        app_a = await stack.enter_async_context(running_app(redis_url=redis_url))
        app_b = await stack.enter_async_context(running_app(redis_url=redis_url))
        a = await stack.enter_async_context(client_for(app_a, address))
        b = await stack.enter_async_context(client_for(app_b, address))
        await fail(a, user.email, 3)
        await fail(b, user.email, 2)
        assert_rate_limited(await login(a, user.email, DEFAULT_PASSWORD))
        assert_rate_limited(await login(b, user.email, DEFAULT_PASSWORD))


@pytest.mark.redis
async def test_instances_share_the_client_count_through_redis(
    redis_url: str, running_app: RunningApp, make_user: MakeUser
) -> None:
    user = await make_user(email=unique_email("client"))
    address = random_address()
    settings = {"redis_url": redis_url, "login_rate_limit_per_client": "3/minute"}
    async with AsyncExitStack() as stack:
        app_a = await stack.enter_async_context(running_app(**settings))
        app_b = await stack.enter_async_context(running_app(**settings))
        a = await stack.enter_async_context(client_for(app_a, address))
        b = await stack.enter_async_context(client_for(app_b, address))
        elsewhere = await stack.enter_async_context(client_for(app_b, random_address()))
        assert (await login(a, user.email, DEFAULT_PASSWORD)).status_code == 200
        assert (await login(b, user.email, DEFAULT_PASSWORD)).status_code == 200
        assert (await login(a, user.email, DEFAULT_PASSWORD)).status_code == 200
        assert_rate_limited(await login(b, user.email, DEFAULT_PASSWORD))
        assert (await login(elsewhere, user.email, DEFAULT_PASSWORD)).status_code == 200


@pytest.mark.redis
async def test_successful_logins_through_redis_do_not_lock_the_account(
    redis_url: str, running_app: RunningApp, make_user: MakeUser
) -> None:
    user = await make_user(email=unique_email("happy"))
    async with (
        running_app(redis_url=redis_url) as other,
        client_for(other, random_address()) as client,
    ):
        for _ in range(ACCOUNT_LIMIT + 2):
            assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200


# ------------------------------------------------------------------ Redis down: fail closed


async def test_login_fails_closed_when_redis_is_down(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    user = await make_user()
    async with running_app(redis_url=DEAD_REDIS) as other, client_for(other) as client:
        response = await login(client, user.email, DEFAULT_PASSWORD)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/service-unavailable"
        assert "access_token" not in response.text
        assert (await client.get("/api/health")).status_code == 200


# ------------------------------------------------------------------ concurrent guessing


async def test_concurrent_failures_cannot_exceed_the_account_limit(
    committed_app: FastAPI, committed_make_user: MakeUser
) -> None:
    """Twelve wrong passwords at once from one client (within its 20/minute budget): at most
    five may be checked against the account, the rest are refused with 429."""
    user = await committed_make_user(email=unique_email("burst"))
    async with client_for(committed_app, random_address()) as client:
        responses = await asyncio.gather(*(login(client, user.email, WRONG) for _ in range(12)))
    statuses = sorted(r.status_code for r in responses)
    # Each of these was a password actually checked; the rest must have been refused.
    assert statuses.count(400) <= ACCOUNT_LIMIT, statuses
    assert statuses.count(429) == 12 - statuses.count(400), statuses
