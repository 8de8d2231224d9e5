"""The audit log as the audit tests read it: the rows straight from the table (through the
test's connection), and the list over the API."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.factories import Headers

AUDIT = "/api/v1/audit"


async def audit_rows(connection: AsyncConnection, **where: str) -> list[dict[str, Any]]:
    """Rows of audit_entries, oldest first, where each given column equals its value."""
    clauses = " AND ".join(f"{column} = :{column}" for column in where) or "true"
    result = await connection.execute(
        text(f"SELECT * FROM audit_entries WHERE {clauses} ORDER BY at, id"),  # noqa: S608
        where,
    )
    return [dict(row) for row in result.mappings().all()]


async def audit_page(client: httpx.AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = await client.get(AUDIT, params=params, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page
