"""The audit log (audit:read, admins): every change outside the ledger and every security
event, with who did it, newest first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from src.api.deps import AuditServiceDep, CanReadAudit, Pagination
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.schemas.audit import AuditEntryRead
from src.schemas.filter import AuditFilter
from src.schemas.pagination import Page

router = PrefixRouter(prefix=f"{API_V1}/audit", tags=["audit"])


@router.get("", operation_id="listAuditEntries", responses=problem_responses(400, 401, 403, 422))
async def list_audit_entries(
    _: CanReadAudit,
    service: AuditServiceDep,
    paging: Pagination,
    filters: Annotated[AuditFilter, Query()],
) -> Page[AuditEntryRead]:
    """Audit entries, newest first; filter by action, entity, actor and time."""
    page = await service.list(filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit)
    return Page[AuditEntryRead](items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/{entry_id}", operation_id="getAuditEntry", responses=problem_responses(401, 403, 404, 422)
)
async def read_audit_entry(
    entry_id: uuid.UUID, _: CanReadAudit, service: AuditServiceDep
) -> AuditEntryRead:
    """One audit entry by id."""
    return await service.get(entry_id)
