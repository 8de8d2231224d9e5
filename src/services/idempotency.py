"""Idempotency-Key handling for POSTs under /stock (used through the unit of work).

The key is claimed with a non-blocking advisory lock held for the request's transaction: a
second request with the same key while the first runs gets 409 at once instead of queueing.
The record (request fingerprint + the exact response bytes) is written in the same
transaction as the work, so it exists if and only if the work committed; a failed attempt
leaves nothing behind and may be retried with the same key.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.exceptions import IdempotencyKeyInFlight, IdempotencyKeyReused
from src.core.metrics import IDEMPOTENT_REPLAYS
from src.repositories.idempotency import IdempotencyRepository
from src.services.housekeeping import PURGE_BATCH, purge_in_batches

RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class Replay:
    """The response stored for a key, to be sent again exactly as it was."""

    status: int
    body: bytes
    location: str | None


@dataclass(frozen=True)
class Claim:
    """A key this transaction holds: the response is remembered under it."""

    user_id: uuid.UUID
    key: str
    request_hash: str


def fingerprint(operation: str, body: BaseModel) -> str:
    """Hash of what was asked: the operation and the validated body (canonical JSON)."""
    return hashlib.sha256(f"{operation}\n{body.model_dump_json()}".encode()).hexdigest()


class IdempotencyGuard:
    def __init__(self, repository: IdempotencyRepository, retention: timedelta = RETENTION) -> None:
        self.repository = repository
        self.retention = retention

    async def claim(self, claim: Claim) -> Replay | None:
        """Take the key for this transaction; the stored response if it already completed.

        Raises IdempotencyKeyInFlight while another transaction holds it and
        IdempotencyKeyReused when it completed for a different request.
        """
        if not await self.repository.try_lock(claim.user_id, claim.key):
            raise IdempotencyKeyInFlight(
                "A request with this Idempotency-Key is still being processed; retry shortly"
            )
        record = await self.repository.find(claim.user_id, claim.key)
        if record is not None and record.created_at < datetime.now(UTC) - self.retention:
            await self.repository.remove(claim.user_id, claim.key)
            record = None
        if record is None:
            return None
        if record.request_hash != claim.request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used with a different request; use a new key"
            )
        IDEMPOTENT_REPLAYS.inc()
        return Replay(record.response_status, record.response_body, record.location)

    def record(
        self, claim: Claim, *, status: int, body: bytes, location: str | None
    ) -> dict[str, Any]:
        """The record of the response under the claimed key, for the unit of work to write
        with the work (committed with it, or not at all)."""
        return {
            "user_id": claim.user_id,
            "key": claim.key,
            "request_hash": claim.request_hash,
            "response_status": status,
            "response_body": body,
            "location": location,
        }

    async def purge(self, *, batch: int = PURGE_BATCH) -> int:
        """Delete up to `batch` records past the retention window; how many went."""
        return await self.repository.purge_older_than(
            datetime.now(UTC) - self.retention, batch=batch
        )


async def purge_expired(
    session_factory: async_sessionmaker[AsyncSession], *, batch: int = PURGE_BATCH
) -> int:
    """Delete expired records, `batch` per transaction; how many went."""
    return await purge_in_batches(
        session_factory,
        lambda session, size: IdempotencyGuard(IdempotencyRepository(session)).purge(batch=size),
        batch,
    )
