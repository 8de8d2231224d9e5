"""The audit log's rows: written with the request's closing statement (src.repositories.event
.log builds it: one round trip for events, audit entries and the stored response), listed
newest first with filters, and purged by age."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Select, Text, delete, literal_column, select

from src.core.cursors import CursorCodec
from src.core.ids import new_id
from src.models.audit import AuditEntry
from src.repositories.base import PageResult, Repository, SortOrder
from src.schemas.filter import AuditFilter

# `actor ->> 'id'` with the key written out (not bound), as the expression index has it.
_ACTOR_ID = AuditEntry.actor.op("->>", return_type=Text)(literal_column("'id'"))
NEWEST_FIRST = SortOrder("newest", (AuditEntry.at, AuditEntry.id), descending=True)


def _json(value: Any) -> str:
    # Decimals (quantities, prices) as their exact text; uuids, datetimes and enums orjson
    # writes itself.
    return orjson.dumps(value, default=lambda v: str(v) if isinstance(v, Decimal) else v).decode()


@dataclass(frozen=True)
class AuditRow:
    action: str
    entity_type: str
    entity_id: str
    changes: Mapping[str, tuple[Any, Any]]
    actor: Mapping[str, Any] | None


@dataclass(frozen=True)
class AuditRows:
    """One request's audit entries, and where the request came from."""

    rows: Sequence[AuditRow]
    request_id: str | None
    client_ip: str | None

    def params(self) -> dict[str, Any]:
        """The bound values of the closing statement's audit part: one array per column."""
        return {
            "audit_id": [new_id() for _ in self.rows],
            "audit_action": [row.action for row in self.rows],
            "audit_actor": [None if row.actor is None else _json(row.actor) for row in self.rows],
            "audit_entity_type": [row.entity_type for row in self.rows],
            "audit_entity_id": [row.entity_id for row in self.rows],
            "audit_changes": [_json(dict(row.changes)) for row in self.rows],
            "audit_request_id": self.request_id,
            "audit_client_ip": self.client_ip,
        }


def _filtered(filters: AuditFilter) -> Select[AuditEntry]:
    statement = select(AuditEntry)
    if filters.action is not None:
        statement = statement.where(AuditEntry.action == filters.action)
    if filters.entity_type is not None:
        statement = statement.where(AuditEntry.entity_type == filters.entity_type)
    if filters.entity_id is not None:
        statement = statement.where(AuditEntry.entity_id == filters.entity_id)
    if filters.actor_id is not None:
        statement = statement.where(_ACTOR_ID == str(filters.actor_id))
    if filters.since is not None:
        statement = statement.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditEntry.at < filters.until)
    return statement


class AuditRepository(Repository[AuditEntry]):
    model = AuditEntry

    async def page(
        self, filters: AuditFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[AuditEntry]:
        return await self.paginate(
            _filtered(filters), order=NEWEST_FIRST, codec=codec, cursor=cursor, limit=limit
        )

    async def purge_older_than(self, cutoff: datetime, *, batch: int = 10_000) -> int:
        """Delete up to `batch` entries made before `cutoff`; how many went. Rows another
        purger holds are skipped, never waited for."""
        doomed = (
            select(AuditEntry.id)
            .where(AuditEntry.at < cutoff)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        rows = await self.session.execute(
            delete(AuditEntry).where(AuditEntry.id.in_(doomed)).returning(AuditEntry.id)
        )
        return len(rows.all())
