"""The app deletes refresh sessions past their family's expiry on its own, and keeps every
row of a live family (used and revoked ones too: reuse detection needs them)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.tokens import hash_refresh_token
from src.main import create_app
from src.models.user import User
from tests.support.factories import MakeUser, refresh_grant
from tests.support.settings import make_settings


async def _insert(
    engine: AsyncEngine, user: User, token: str, *, expires_in_hours: int, state: str
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO refresh_sessions (id, user_id, family_id, token_hash, expires_at,"
                " used_at, revoked_at) VALUES (:id, :u, :f, :h,"
                " now() + make_interval(hours => :e),"
                " CASE WHEN :used THEN now() END, CASE WHEN :revoked THEN now() END)"
            ),
            {
                "id": uuid.uuid4(),
                "u": user.id,
                "f": uuid.uuid4(),
                "h": hash_refresh_token(token),
                "e": expires_in_hours,
                "used": state in ("used", "revoked"),
                "revoked": state == "revoked",
            },
        )


async def _remaining(engine: AsyncEngine, user: User) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT token_hash FROM refresh_sessions WHERE user_id = :u"), {"u": user.id}
        )
        return set(rows.scalars())


async def test_expired_sessions_are_purged_in_the_background(
    committed_database_url: str,
    committed_engine: AsyncEngine,
    committed_make_user: MakeUser,
    tmp_path: Path,
) -> None:
    user = await committed_make_user()
    tokens = {
        (hours, state): f"{state}-{hours}-{uuid.uuid4()}"
        for hours in (-1, 1)
        for state in ("unused", "used", "revoked")
    }
    for (hours, state), token in tokens.items():
        await _insert(committed_engine, user, token, expires_in_hours=hours, state=state)
    app = create_app(
        make_settings(committed_database_url, tmp_path, refresh_session_purge_interval_seconds=0.05)
    )
    async with LifespanManager(app):
        await asyncio.sleep(0.5)
        live = {hash_refresh_token(t) for (hours, _), t in tokens.items() if hours > 0}
        assert await _remaining(committed_engine, user) == live
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            for state in ("used", "revoked", "unused"):
                expired = await refresh_grant(client, tokens[(-1, state)])
                assert expired.status_code == 400
                assert expired.json()["error"] == "invalid_grant"
            unused = await refresh_grant(client, tokens[(1, "unused")])
            assert unused.status_code == 200, unused.text
            # A used token of a live family is still recognised as reused: the purge kept
            # its row, and presenting it revokes its family.
            reused = await refresh_grant(client, tokens[(1, "used")])
            assert reused.status_code == 400
        async with committed_engine.connect() as connection:
            revoked = await connection.scalar(
                text("SELECT revoked_at IS NOT NULL FROM refresh_sessions WHERE token_hash = :h"),
                {"h": hash_refresh_token(tokens[(1, "used")])},
            )
        assert revoked is True
