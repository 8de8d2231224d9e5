"""The request's write boundary: one transaction that owns the idempotency claim, the
stored response, the events appended to the change feed's log, the audit log's entries,
and the commit.

Services write through `session` and `emit` events, knowing nothing of HTTP; the API layer
claims the Idempotency-Key, builds the response and asks the unit of work to remember it;
the request dependency commits (or rolls back) once, before the response is sent. Events,
audit entries and the remembered response are buffered and written just before the
commit, in one statement that also sends the NOTIFY waking the feed's readers (when
anything was emitted): one round trip instead of one per row, still in the transaction of
the change, so a write that fails emits nothing, audits nothing and stores no response.

A read-only unit of work (safe requests) has no transaction to speak of: its session runs in
autocommit and refuses writes (`src.core.readonly`), and it cannot emit, claim or remember.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.readonly import WriteInReadOnlyRequest, mark_read_only
from src.models.principal import Actor
from src.repositories.audit import AuditRow, AuditRows
from src.repositories.event.log import EventRepository, EventRow, event_row
from src.repositories.idempotency import IdempotencyRepository
from src.services.idempotency import Claim, IdempotencyGuard, Replay, fingerprint


@dataclass(frozen=True, slots=True)
class AuditNote:
    """An audit entry waiting for the commit."""

    action: str
    entity_type: str
    entity_id: str
    changes: dict[str, tuple[Any, Any]]
    actor: Actor | None


REDACTED = "[redacted]"
# A field whose name holds one of these is a secret (or a hash of one): the audit log says
# that it changed, never what it was or became.
_SECRET_WORDS = ("password", "secret", "token", "hash")


def redacted(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    return {
        field: (REDACTED, REDACTED)
        if any(word in field.lower() for word in _SECRET_WORDS)
        else (before, after)
        for field, (before, after) in changes.items()
    }


class UnitOfWork:
    def __init__(self, session: AsyncSession, *, read_only: bool = False) -> None:
        self.session = session
        self.read_only = read_only
        if read_only:
            mark_read_only(session)
        self._guard = IdempotencyGuard(IdempotencyRepository(session))
        self._events = EventRepository(session)
        self._claim: Claim | None = None
        self._pending: list[EventRow] = []
        self._response: Mapping[str, Any] | None = None
        # Who this request acts as (set once the caller is authenticated; None for work no
        # one asked for, such as a background job's): the author of its events and records.
        self.actor: Actor | None = None
        # Where the request came from, for its audit entries (set by the request dependency).
        self.request_id: str | None = None
        self.client_ip: str | None = None
        self._audits: list[AuditNote] = []

    async def emit(self, type: str, data: Mapping[str, Any]) -> None:
        """Append an event (a registered type; JSON data) to the log in this transaction
        (written at the commit, in emission order), by this request's actor (None for
        background work)."""
        self._writable("emit")
        actor = None if self.actor is None else self.actor.as_json()
        self._pending.append(event_row(type, data, actor))

    def audit(
        self,
        action: str,
        entity_type: str,
        entity_id: uuid.UUID | str,
        changes: Mapping[str, tuple[Any, Any]] | None = None,
    ) -> None:
        """Record a change outside the ledger, or a security event, in the audit log, in this
        transaction (written at the commit: a change that rolls back leaves no entry).
        `changes`: field → (before, after), only what changed; a secret-like field's values
        are replaced by "[redacted]" here, whatever the caller passed."""
        self._writable("audit")
        self._audits.append(
            AuditNote(action, entity_type, str(entity_id), redacted(changes or {}), self.actor)
        )

    async def claim(
        self, user_id: uuid.UUID, key: str, operation: str, body: BaseModel
    ) -> Replay | None:
        """Hold `key` for this transaction: the stored response when the same request already
        completed (send it again, do nothing else), None when the work is to be done now.
        In flight elsewhere → IdempotencyKeyInFlight; used for another request →
        IdempotencyKeyReused."""
        self._writable("claim")
        claim = Claim(user_id, key, fingerprint(operation, body))
        replay = await self._guard.claim(claim)
        if replay is None:
            self._claim = claim
        return replay

    async def remember(self, status: int, body: bytes, location: str | None) -> None:
        """Store the response for the claimed key, in this transaction (at the commit)."""
        if self._claim is None:
            raise RuntimeError("remember() needs a key claimed by claim() first")
        self._response = self._guard.record(
            self._claim, status=status, body=body, location=location
        )
        self._claim = None

    async def flush(self) -> None:
        """Write what is buffered (events, audit entries, the stored response, the NOTIFY):
        one statement, and none when nothing is buffered."""
        if self._pending or self._audits or self._response is not None:
            events, self._pending = self._pending, []
            response, self._response = self._response, None
            notes, self._audits = self._audits, []
            audits = None
            if notes:
                rows = [
                    AuditRow(
                        n.action,
                        n.entity_type,
                        n.entity_id,
                        n.changes,
                        None if n.actor is None else n.actor.as_json(),
                    )
                    for n in notes
                ]
                audits = AuditRows(rows, self.request_id, self.client_ip)
            await self._events.write(events, record=response, notify=bool(events), audits=audits)

    async def commit(self) -> None:
        await self.flush()
        await self.session.commit()

    async def rollback(self) -> None:
        self._claim = None
        self._pending = []
        self._audits = []
        self._response = None
        await self.session.rollback()

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise WriteInReadOnlyRequest(f"{what}() in a read-only (safe) request")
