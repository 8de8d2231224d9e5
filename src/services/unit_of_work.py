"""The request's write boundary: one transaction that owns the idempotency claim, the
stored response, the events appended to the change feed's log, and the commit.

Services write through `session` and `emit` events, knowing nothing of HTTP; the API layer
claims the Idempotency-Key, builds the response and asks the unit of work to remember it;
the request dependency commits (or rolls back) once, before the response is sent. Events
are rows of the log in the same transaction, so a write that fails emits nothing; a NOTIFY
on the feed's channel, sent once just before the commit when anything was emitted, only
wakes readers, which then read the log.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from src.repositories.events import EventRepository
from src.repositories.idempotency import IdempotencyRepository
from src.services.idempotency import Claim, IdempotencyGuard, Replay, fingerprint


class UnitOfWork:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._guard = IdempotencyGuard(IdempotencyRepository(session))
        self._events = EventRepository(session)
        self._claim: Claim | None = None
        self._emitted = False

    async def emit(self, type: str, data: Mapping[str, Any]) -> None:
        """Append an event (a registered type; JSON data) to the log in this transaction."""
        await self._events.append(type, data)
        self._emitted = True

    async def claim(
        self, user_id: uuid.UUID, key: str, operation: str, body: BaseModel
    ) -> Replay | None:
        """Hold `key` for this transaction: the stored response when the same request already
        completed (send it again, do nothing else), None when the work is to be done now.
        In flight elsewhere → IdempotencyKeyInFlight; used for another request →
        IdempotencyKeyReused."""
        claim = Claim(user_id, key, fingerprint(operation, body))
        replay = await self._guard.claim(claim)
        if replay is None:
            self._claim = claim
        return replay

    async def remember(self, status: int, body: bytes, location: str | None) -> None:
        """Store the response for the claimed key, in this transaction."""
        if self._claim is None:
            raise RuntimeError("remember() needs a key claimed by claim() first")
        await self._guard.remember(self._claim, status=status, body=body, location=location)
        self._claim = None

    async def commit(self) -> None:
        if self._emitted:
            await self._events.notify()
        await self.session.commit()
        self._emitted = False

    async def rollback(self) -> None:
        self._claim = None
        self._emitted = False
        await self.session.rollback()
