"""The audit log as admins read it, and its retention. Entries are written by the unit of
work (`UnitOfWork.audit`), in the transaction of the change they record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.cursors import CursorCodec
from src.core.exceptions import NotFound
from src.repositories.audit import AuditRepository
from src.repositories.base import PageResult
from src.schemas.audit import AuditEntryRead
from src.schemas.filter import AuditFilter
from src.services.housekeeping import purge_in_batches
from src.services.unit_of_work import UnitOfWork


class AuditService:
    def __init__(self, work: UnitOfWork) -> None:
        self.entries = AuditRepository(work.session)

    async def list(
        self, filters: AuditFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[AuditEntryRead]:
        page = await self.entries.page(filters, codec=codec, cursor=cursor, limit=limit)
        return PageResult([AuditEntryRead.of(e) for e in page.items], page.next_cursor)

    async def get(self, entry_id: uuid.UUID) -> AuditEntryRead:
        entry = await self.entries.get(entry_id)
        if entry is None:
            raise NotFound("No audit entry with this id")
        return AuditEntryRead.of(entry)


async def purge_old_audit_entries(
    session_factory: async_sessionmaker[AsyncSession], retention_days: float
) -> int:
    """Delete entries older than the retention (AUDIT_RETENTION_DAYS); how many went."""
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)

    async def purge(session: AsyncSession, batch: int) -> int:
        return await AuditRepository(session).purge_older_than(cutoff, batch=batch)

    return await purge_in_batches(session_factory, purge)
