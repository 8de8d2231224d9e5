"""Alembic owns the schema: every revision goes up and down, and models match migrations."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
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
