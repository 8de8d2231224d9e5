"""The app deletes idempotency records past their 24 h retention on its own."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.main import create_app
from src.models.user import User
from tests.support.factories import MakeUser
from tests.support.settings import make_settings


async def _insert(engine: AsyncEngine, user: User, key: str, age: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO idempotency_records (user_id, key, request_hash, response_status,"
                " response_body, created_at) VALUES (:u, :k, 'h', 201, '\\x7b7d',"
                " now() - make_interval(hours => :age))"
            ),
            {"u": user.id, "k": key, "age": age},
        )


async def test_expired_records_are_purged_in_the_background(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    user = await committed_make_user()
    old, fresh = f"old-{uuid.uuid4()}", f"fresh-{uuid.uuid4()}"
    await _insert(committed_engine, user, old, 25)
    await _insert(committed_engine, user, fresh, 23)
    app = create_app(
        make_settings(committed_database_url, tmp_path, idempotency_purge_interval_seconds=0.05)
    )
    async with LifespanManager(app):
        await asyncio.sleep(0.5)
    async with committed_engine.connect() as connection:
        keys = set(
            (
                await connection.execute(
                    text("SELECT key FROM idempotency_records WHERE user_id = :u"), {"u": user.id}
                )
            ).scalars()
        )
    assert keys == {fresh}


PURGES = [
    ("idempotency_purge_interval_seconds", "idempotency_purge_failed"),
    ("refresh_session_purge_interval_seconds", "refresh_session_purge_failed"),
]


@pytest.fixture(params=PURGES, ids=[event for _, event in PURGES])
def outage_app(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[FastAPI, str]:
    # Built in a fixture: create_app configures logging, which would detach caplog's
    # handler if it ran inside the test body.
    interval_setting, failure_event = request.param
    app = create_app(
        make_settings(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none",
            tmp_path,
            db_connect_timeout=1,
            **{interval_setting: 0.05},
        )
    )
    return app, failure_event


async def test_purges_survive_a_database_outage(
    outage_app: tuple[FastAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Each background purge (idempotency records, refresh sessions) keeps trying."""
    app, failure_event = outage_app
    async with LifespanManager(app):
        await asyncio.sleep(0.4)
    failures = [
        r for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == failure_event
    ]
    assert len(failures) >= 2  # it kept trying
