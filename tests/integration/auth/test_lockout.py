"""Login throttling cannot be turned against an account's owner (OWASP, "lockout abuse").

The tight limit (LOGIN_RATE_LIMIT_PER_ACCOUNT) counts attempts per account *and* client
address; a looser limit per account across all addresses
(LOGIN_RATE_LIMIT_PER_ACCOUNT_ALL_CLIENTS) bounds distributed guessing, and once it is spent
only addresses that logged into the account recently (LOGIN_KNOWN_CLIENT_SECONDS) still reach
the password check: the owner's, not the attacker's. Device tokens, which let the owner's
devices through from any address, are in auth/test_device_tokens.py.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.main import create_app
from tests.support.apps import RunningApp, app_beside
from tests.support.factories import DEFAULT_PASSWORD, MakeUser, unique_email
from tests.support.logins import ACCOUNT_LIMIT, WRONG, assert_rate_limited, client_for, login
from tests.support.settings import make_settings

OWNER = "192.0.2.10"
ALL_CLIENTS = 6  # the account-wide limit these tests set, per hour
_addresses = (f"198.51.{a}.{b}" for a, b in itertools.product(range(256), range(1, 255)))


def attacker_address() -> str:
    return next(_addresses)


@pytest.fixture
def running_app(database_url: str, tmp_path: Path, app: FastAPI) -> RunningApp:
    """An app with its own settings and limiter, on the test's connection."""

    @asynccontextmanager
    async def build(**overrides: object) -> AsyncIterator[FastAPI]:
        values: dict[str, object] = {
            "login_rate_limit_per_account_all_clients": f"{ALL_CLIENTS}/hour",
            # The per-address budget is not what these tests are about.
            "login_rate_limit_per_client": "1000/minute",
            **overrides,
        }
        async with app_beside(app, make_settings(database_url, tmp_path, **values)) as other:
            yield other

    return build


async def status_from(app: FastAPI, address: str, email: str, password: str) -> int:
    async with client_for(app, address) as client:
        return (await login(client, email, password)).status_code


async def spread_guesses(app: FastAPI, email: str, addresses: int, each: int = 1) -> list[int]:
    statuses = []
    for _ in range(addresses):
        address = attacker_address()
        for _ in range(each):
            statuses.append(await status_from(app, address, email, WRONG))
    return statuses


async def test_guesses_from_other_addresses_never_lock_the_owner_out(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app:
        assert await status_from(app, OWNER, owner.email, DEFAULT_PASSWORD) == 200
        # Five wrong guesses from each of six addresses: far past both the account's
        # per-minute limit and its account-wide budget.
        statuses = await spread_guesses(app, owner.email, addresses=6, each=ACCOUNT_LIMIT)
        assert set(statuses) == {400, 429}
        async with client_for(app, OWNER) as client:
            response = await login(client, owner.email, DEFAULT_PASSWORD)
            assert response.status_code == 200, response.text
            me = await client.get(
                "/api/v1/users/me",
                headers={"Authorization": f"Bearer {response.json()['access_token']}"},
            )
            assert me.json()["email"] == owner.email


async def test_distributed_guessing_is_bounded_per_account(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app:
        assert await status_from(app, OWNER, owner.email, DEFAULT_PASSWORD) == 200
        statuses = await spread_guesses(app, owner.email, addresses=ALL_CLIENTS + 4)
        # One guess per address never reaches the per-address limit; the account-wide one
        # stops the spread (the owner's first login, from an address then unknown, counted).
        assert statuses == [400] * (ALL_CLIENTS - 1) + [429] * 5
        # Even the right password from an address the account has never used is refused:
        # the attacker cannot tell a right guess from a wrong one any more.
        async with client_for(app, attacker_address()) as client:
            refused = await login(client, owner.email, DEFAULT_PASSWORD)
        assert refused.status_code == 429
        assert refused.json()["type"] == "/problems/rate-limited"
        assert 60 < int(refused.headers["retry-after"]) <= 3600  # the hourly window's rest
        assert "access_token" not in refused.text
        assert await status_from(app, OWNER, owner.email, DEFAULT_PASSWORD) == 200


async def test_the_owners_own_wrong_guesses_still_hit_the_tight_limit(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app() as app, client_for(app, OWNER) as client:
        assert (await login(client, owner.email, DEFAULT_PASSWORD)).status_code == 200
        for _ in range(ACCOUNT_LIMIT):
            assert (await login(client, owner.email, WRONG)).status_code == 400
        # A known address does not lift the per-address limit.
        assert_rate_limited(await login(client, owner.email, DEFAULT_PASSWORD))
        # The owner's typos did not spend the account-wide budget.
        assert await status_from(app, attacker_address(), owner.email, DEFAULT_PASSWORD) == 200


async def test_an_unknown_email_is_bounded_like_a_real_one(running_app: RunningApp) -> None:
    email = unique_email("nobody")
    async with running_app() as app:
        statuses = await spread_guesses(app, email, addresses=ALL_CLIENTS + 2)
    assert statuses == [400] * ALL_CLIENTS + [429] * 2


async def test_a_known_address_is_forgotten_after_its_time(
    running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user()
    async with running_app(login_known_client_seconds=1) as app:
        assert await status_from(app, OWNER, owner.email, DEFAULT_PASSWORD) == 200
        await spread_guesses(app, owner.email, addresses=ALL_CLIENTS)
        await asyncio.sleep(1.2)
        assert await status_from(app, OWNER, owner.email, DEFAULT_PASSWORD) == 429


async def test_concurrent_guesses_from_many_addresses_stay_within_the_account_budget(
    committed_database_url: str, tmp_path: Path, committed_make_user: MakeUser
) -> None:
    owner = await committed_make_user(email=unique_email("spread"))
    settings = make_settings(
        committed_database_url,
        tmp_path,
        login_rate_limit_per_account_all_clients=f"{ALL_CLIENTS}/hour",
    )
    app = create_app(settings)
    async with LifespanManager(app):
        statuses = sorted(
            await asyncio.gather(
                *(status_from(app, attacker_address(), owner.email, WRONG) for _ in range(16))
            )
        )
    assert statuses.count(400) <= ALL_CLIENTS, statuses
    assert statuses.count(429) == 16 - statuses.count(400), statuses


@pytest.mark.redis
async def test_known_addresses_and_the_account_budget_are_shared_through_redis(
    redis_url: str, running_app: RunningApp, make_user: MakeUser
) -> None:
    owner = await make_user(email=unique_email("fleet"))
    async with AsyncExitStack() as stack:
        app_a = await stack.enter_async_context(running_app(redis_url=redis_url))
        app_b = await stack.enter_async_context(running_app(redis_url=redis_url))
        assert await status_from(app_a, OWNER, owner.email, DEFAULT_PASSWORD) == 200
        half = ALL_CLIENTS // 2
        assert await spread_guesses(app_a, owner.email, addresses=half) == [400] * half
        rest = ALL_CLIENTS - half - 1  # the owner's first login counted too
        assert await spread_guesses(app_b, owner.email, addresses=rest + 1) == [400] * rest + [429]
        assert await status_from(app_b, OWNER, owner.email, DEFAULT_PASSWORD) == 200
        assert await status_from(app_b, attacker_address(), owner.email, DEFAULT_PASSWORD) == 429
