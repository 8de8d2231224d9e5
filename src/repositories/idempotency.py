"""Idempotency records: one completed response per (user, key)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, delete, select, text

from src.models.stock import IdempotencyRecord
from src.repositories.base import Repository

# Built once (a prebuilt statement's cache key is memoised): both run on every keyed posting.
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))")
_FIND = select(IdempotencyRecord).where(
    IdempotencyRecord.user_id == bindparam("user_id"), IdempotencyRecord.key == bindparam("key")
)


class IdempotencyRepository(Repository[IdempotencyRecord]):
    model = IdempotencyRecord

    async def try_lock(self, user_id: uuid.UUID, key: str) -> bool:
        """Take a transaction-scoped advisory lock on (user, key) without waiting.

        False means another request with the same key is running right now.
        """
        acquired = await self.session.scalar(_TRY_LOCK, {"k": f"idempotency:{user_id}:{key}"})
        return bool(acquired)

    async def find(self, user_id: uuid.UUID, key: str) -> IdempotencyRecord | None:
        return await self.session.scalar(_FIND, {"user_id": user_id, "key": key})

    async def remove(self, record: IdempotencyRecord) -> None:
        await self.session.delete(record)
        await self.session.flush()

    async def purge_older_than(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)
