"""Alembic owns the schema: every revision goes up and down, and models match migrations."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from src.core import migrations
from src.models import Base
from tests.support.databases import TestServer


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrations.alembic_config("postgresql+asyncpg://x/y"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _current(url: str) -> str | None:
    async def read() -> str | None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            version = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
        await engine.dispose()
        return version

    return asyncio.run(read())


def test_revision_files_are_named_by_date() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config("postgresql+asyncpg://x/y"))
    for revision in script.walk_revisions():
        name = revision.path.rsplit("/", 1)[-1]
        assert name[:16].replace("_", "").isdigit(), name


def test_stairway_every_revision_up_down_up(pg_server: TestServer) -> None:
    revisions = _revisions()
    assert revisions, "there must be at least one migration"
    with pg_server.fresh_database("stockroom_stairway") as url:
        previous: str = "base"
        for revision in revisions:
            migrations.upgrade(url, revision)
            assert _current(url) == revision
            command.downgrade(migrations.alembic_config(url), previous)
            assert _current(url) == (None if previous == "base" else previous)
            migrations.upgrade(url, revision)
            previous = revision
        assert _current(url) == revisions[-1]


def test_models_and_migrations_agree(database_url: str) -> None:
    def diff(sync: Connection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[object]:
        engine = create_async_engine(database_url)
        async with engine.connect() as connection:
            result = await connection.run_sync(diff)
        await engine.dispose()
        return result

    assert asyncio.run(run()) == []


def test_email_skeletons_are_backfilled_oldest_first(pg_server: TestServer) -> None:
    """Existing accounts get their skeletons; of two that already look alike the older keeps
    it, and from then on the index refuses any further look-alike."""
    rows = [
        ("01900000-0000-7000-8000-000000000001", "admin@example.com"),
        ("01900000-0000-7000-8000-000000000002", "adm\u0131n@example.com"),
        ("01900000-0000-7000-8000-000000000003", "ana@example.com"),
    ]

    async def seed(url: str) -> None:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            for minute, (user_id, email) in enumerate(rows):
                await connection.execute(
                    text(
                        "INSERT INTO users (id, email, hashed_password, full_name, role,"
                        " created_at, updated_at) VALUES (:id, :email, 'x', 'N', 'viewer',"
                        " now() - make_interval(mins => :age), now())"
                    ),
                    {"id": user_id, "email": email, "age": 10 - minute},
                )
        await engine.dispose()

    async def skeletons(url: str) -> dict[str, str]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT email, email_skeleton FROM users"))
            found = {email: skeleton for email, skeleton in result.all()}
            with pytest.raises(IntegrityError, match="uq_users_email_skeleton"):
                await connection.execute(
                    text(
                        "INSERT INTO users (id, email, email_skeleton, hashed_password,"
                        " full_name, role) VALUES (gen_random_uuid(), 'rnodern@example.com',"
                        " 'adrnin@exarnple.corn', 'x', 'N', 'viewer')"
                    )
                )
        await engine.dispose()
        return found

    with pg_server.fresh_database("stockroom_skeletons") as url:
        migrations.upgrade(url, "0010_webhooks")
        asyncio.run(seed(url))
        migrations.upgrade(url)
        found = asyncio.run(skeletons(url))
    assert found == {
        "admin@example.com": "adrnin@exarnple.corn",
        "adm\u0131n@example.com": f"adrnin@exarnple.corn {rows[1][0]}",
        "ana@example.com": "ana@exarnple.corn",
    }
