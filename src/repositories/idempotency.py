"""Idempotency records: one completed response per (user, key)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, String, bindparam, delete, func, literal, select, tuple_

from src.core.prepared import fetch
from src.models.stock import IdempotencyRecord
from src.repositories.base import Repository

# Built once, and plain SELECTs: both run on every keyed posting, on the driver
# (src.core.prepared) once the posting's transaction has begun.
_TRY_LOCK = select(
    func.pg_try_advisory_xact_lock(
        func.hashtextextended(bindparam("k", type_=String), literal(0, BigInteger))
    ).label("locked")
)
_records = IdempotencyRecord.__table__
_FIND = select(
    _records.c.request_hash,
    _records.c.response_status,
    _records.c.response_body,
    _records.c.location,
    _records.c.created_at,
).where(_records.c.user_id == bindparam("user_id"), _records.c.key == bindparam("key"))
_REMOVE = delete(IdempotencyRecord).where(
    IdempotencyRecord.user_id == bindparam("user_id"), IdempotencyRecord.key == bindparam("key")
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A completed request's response, as kept for its key."""

    request_hash: str
    response_status: int
    response_body: bytes
    location: str | None
    created_at: datetime


class IdempotencyRepository(Repository[IdempotencyRecord]):
    model = IdempotencyRecord

    async def try_lock(self, user_id: uuid.UUID, key: str) -> bool:
        """Take a transaction-scoped advisory lock on (user, key) without waiting.

        False means another request with the same key is running right now.
        """
        rows = await fetch(self.session, _TRY_LOCK, {"k": f"idempotency:{user_id}:{key}"})
        return bool(rows[0]["locked"])

    async def find(self, user_id: uuid.UUID, key: str) -> StoredResponse | None:
        rows = await fetch(self.session, _FIND, {"user_id": user_id, "key": key})
        return StoredResponse(**rows[0]) if rows else None

    async def remove(self, user_id: uuid.UUID, key: str) -> None:
        await self.session.execute(_REMOVE, {"user_id": user_id, "key": key})

    async def purge_older_than(self, cutoff: datetime, *, batch: int = 10_000) -> int:
        """Delete up to `batch` records created before `cutoff`; how many went. Rows another
        transaction holds (another purger's batch) are skipped, never waited for."""
        doomed = (
            select(IdempotencyRecord.user_id, IdempotencyRecord.key)
            .where(IdempotencyRecord.created_at < cutoff)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        rows = await self.session.execute(
            delete(IdempotencyRecord)
            .where(tuple_(IdempotencyRecord.user_id, IdempotencyRecord.key).in_(doomed))
            .returning(IdempotencyRecord.key)
        )
        return len(rows.all())
