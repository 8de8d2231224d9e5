"""Retention: the purge deletes entries older than AUDIT_RETENTION_DAYS, in batches, and
keeps the rest; it is one of the background jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from src.core.ids import new_id
from src.jobs.background import background_jobs
from src.services.audit import purge_old_audit_entries
from tests.support.settings import make_settings


async def add_entry(connection: AsyncConnection, entity: str, age: timedelta) -> str:
    entry_id = new_id()
    await connection.execute(
        text(
            "INSERT INTO audit_entries (id, at, action, entity_type, entity_id)"
            " VALUES (:id, :at, 'product.updated', 'product', :entity)"
        ),
        {"id": entry_id, "at": datetime.now(UTC) - age, "entity": entity},
    )
    return str(entry_id)


async def test_the_purge_removes_only_entries_past_retention(
    committed_engine: AsyncEngine,
) -> None:
    entity = str(new_id())  # this test's entries (the database is shared)
    async with committed_engine.begin() as connection:
        old = [await add_entry(connection, entity, timedelta(days=d)) for d in (31, 40, 400)]
        kept = [await add_entry(connection, entity, timedelta(days=d)) for d in (0, 29)]
    factory = async_sessionmaker(committed_engine, expire_on_commit=False)
    assert await purge_old_audit_entries(factory, 30) >= len(old)
    async with committed_engine.connect() as connection:
        left = await connection.execute(
            text("SELECT id FROM audit_entries WHERE entity_id = :entity"), {"entity": entity}
        )
    assert sorted(str(i) for i in left.scalars().all()) == sorted(kept)
    assert await purge_old_audit_entries(factory, 30) == 0  # nothing more is due


async def test_the_purge_is_a_background_job(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, audit_retention_days=7)
    jobs, _ = background_jobs(settings, async_sessionmaker())
    assert "audit" in {job.name for job in jobs}
