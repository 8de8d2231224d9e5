"""What API clients cost and are allowed: token requests throttled per client_id, a rate
limit per client apart from every user's, many token requests at once, and `last_used_at`
kept to the minute by a flush instead of a write per request."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.config import Settings
from src.models.user import Role
from tests.support.apps import client_beside, serving
from tests.support.clients import TOKEN, basic, client_credentials, created_client
from tests.support.factories import Headers, MakeUser, login_headers
from tests.support.polling import until
from tests.support.settings import make_settings


def bearer(response: httpx.Response) -> Headers:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_twenty_concurrent_token_requests_all_succeed(
    committed_client: httpx.AsyncClient, committed_make_user: MakeUser
) -> None:
    admin = await login_headers(committed_client, await committed_make_user(role=Role.ADMIN))
    shop = await created_client(committed_client, admin, name="Busy shop")
    answers = await asyncio.gather(*(client_credentials(committed_client, shop) for _ in range(20)))
    assert [answer.status_code for answer in answers] == [200] * 20
    tokens = {answer.json()["access_token"] for answer in answers}
    assert len(tokens) == 20
    uses = await asyncio.gather(
        *(
            committed_client.get("/api/v1/products", headers={"Authorization": f"Bearer {t}"})
            for t in tokens
        )
    )
    assert [use.status_code for use in uses] == [200] * 20
    wrong = await committed_client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic(shop["client_id"], "srs_wrong"),
    )
    assert wrong.status_code == 401


async def test_token_requests_are_throttled_per_client_id(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: Headers,
    database_url: str,
    tmp_path: Path,
) -> None:
    shop = await created_client(client, admin_headers, name="Shop")
    other = await created_client(client, admin_headers, name="Other")
    settings = make_settings(database_url, tmp_path, token_rate_limit_per_client_id="3/minute")
    async with client_beside(app, settings) as limited:
        wrong = {**shop, "client_secret": "srs_guess"}
        assert (await client_credentials(limited, wrong)).status_code == 401
        assert (await client_credentials(limited, shop)).status_code == 200
        assert (await client_credentials(limited, shop)).status_code == 200
        # Charged before the secret is checked: the right one is refused too.
        refused = await client_credentials(limited, shop)
        assert refused.status_code == 429
        assert refused.json()["type"].endswith("/problems/rate-limited")
        assert int(refused.headers["retry-after"]) > 0
        assert (await client_credentials(limited, other)).status_code == 200


async def test_a_client_at_its_own_limit_gets_429_while_a_user_still_passes(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: Headers,
    viewer_headers: Headers,
    database_url: str,
    tmp_path: Path,
) -> None:
    own = await created_client(client, admin_headers, name="Own limit", rate_limit="2/minute")
    default = await created_client(client, admin_headers, name="Default limit")
    settings: Settings = make_settings(
        database_url,
        tmp_path,
        rate_limit_default="4/minute",
        rate_limit_client_default="3/minute",
    )
    async with client_beside(app, settings) as limited:
        own_headers = bearer(await client_credentials(client, own))
        default_headers = bearer(await client_credentials(client, default))
        for _ in range(2):
            passed = await limited.get("/api/v1/products", headers=own_headers)
            assert passed.status_code == 200
            assert passed.headers["ratelimit-limit"] == "2"
        refused = await limited.get("/api/v1/products", headers=own_headers)
        assert refused.status_code == 429
        assert refused.json()["type"].endswith("/problems/rate-limited")
        # Each client and each user counts apart.
        for _ in range(3):
            passed = await limited.get("/api/v1/products", headers=default_headers)
            assert passed.status_code == 200
            assert passed.headers["ratelimit-limit"] == "3"
        assert (await limited.get("/api/v1/products", headers=default_headers)).status_code == 429
        user = await limited.get("/api/v1/products", headers=viewer_headers)
        assert user.status_code == 200
        assert user.headers["ratelimit-limit"] == "4"


async def _last_used(engine: AsyncEngine, id_: str) -> datetime | None:
    async with engine.connect() as connection:
        value: datetime | None = await connection.scalar(
            text("SELECT last_used_at FROM api_clients WHERE id = :id"), {"id": id_}
        )
        return value


async def test_last_used_at_is_flushed_by_a_job_and_written_once_a_minute(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    admin_user = await committed_make_user(role=Role.ADMIN)
    # The job runs whatever BACKGROUND_JOBS says: the process that noted the use writes it.
    async with serving(
        committed_database_url,
        tmp_path,
        client_usage_flush_seconds=0.2,
        background_jobs=False,
    ) as http:
        admin = await login_headers(http, admin_user)
        shop = await created_client(http, admin, name="Seen shop")
        assert shop["last_used_at"] is None
        headers = bearer(await client_credentials(http, shop))
        assert (await http.get("/api/v1/products", headers=headers)).status_code == 200

        async def written() -> bool:
            return await _last_used(committed_engine, shop["id"]) is not None

        await until(written, 10)
        first = await _last_used(committed_engine, shop["id"])
        shown = (await http.get(f"/api/v1/clients/{shop['id']}", headers=admin)).json()
        assert shown["last_used_at"] is not None
        for _ in range(5):
            assert (await http.get("/api/v1/products", headers=headers)).status_code == 200
        await asyncio.sleep(1)  # five flushes
        assert await _last_used(committed_engine, shop["id"]) == first  # once a minute


async def test_last_use_is_written_at_shutdown(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    admin_user = await committed_make_user(role=Role.ADMIN)
    async with serving(committed_database_url, tmp_path, client_usage_flush_seconds=3600) as http:
        admin = await login_headers(http, admin_user)
        shop = await created_client(http, admin, name="Short-lived shop")
        headers = bearer(await client_credentials(http, shop))
        assert (await http.get("/api/v1/products", headers=headers)).status_code == 200
        assert await _last_used(committed_engine, shop["id"]) is None  # not per request
    assert await _last_used(committed_engine, shop["id"]) is not None
