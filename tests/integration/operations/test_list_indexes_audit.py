"""The audit log's list plans, with test_list_indexes' EXPLAIN (sequential scans off): the
newest-first page and each filter are answered from an index that applies the filter."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from src.repositories.audit import NEWEST_FIRST, AuditRepository
from src.schemas.filter import AuditFilter
from tests.support.capture import capturing_session
from tests.support.plans import ID, NOW, Build, Case, assert_plan_fits, explain, paged


def audit(**filters: Any) -> Build:
    return paged(
        "audit_entries:newest",
        NEWEST_FIRST,
        lambda s: AuditRepository(s).page,
        AuditFilter(**filters),
    )


CASES: dict[str, Case] = {
    "audit": Case(audit(), "ix_audit_entries_at_id"),
    "audit-since": Case(audit(since=NOW), "ix_audit_entries_at_id", "(at >= "),
    "audit-until": Case(audit(until=NOW), "ix_audit_entries_at_id", "(at < "),
    "audit-action": Case(
        audit(action="product.updated"),
        "ix_audit_entries_action_at_id",
        "(action = 'product.updated'::text)",
    ),
    "audit-entity": Case(
        audit(entity_type="product", entity_id=str(ID)),
        "ix_audit_entries_entity_at_id",
        f"(entity_id = '{ID}'::text)",
    ),
    "audit-entity-id": Case(
        audit(entity_id=str(ID)), "ix_audit_entries_entity_at_id", f"(entity_id = '{ID}'::text)"
    ),
    # A type alone: few types, each common; walking the newest-first index serves it.
    "audit-entity-type": Case(audit(entity_type="webhook"), None),
    "audit-actor": Case(
        audit(actor_id=ID),
        "ix_audit_entries_actor_id_at_id",
        f"((actor ->> 'id'::text) = '{ID}'::text)",
    ),
}


@pytest.mark.parametrize("after", [False, True], ids=["first-page", "next-page"])
@pytest.mark.parametrize("name", list(CASES))
async def test_audit_list_uses_an_index(
    no_seqscan: AsyncConnection, name: str, after: bool
) -> None:
    case = CASES[name]
    assert_plan_fits(case, await explain(no_seqscan, await case.build(capturing_session(), after)))
