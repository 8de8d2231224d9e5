"""Audit entries as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from src.models.audit import AuditEntry
from src.schemas.base import Output


class AuditActor(Output):
    type: Literal["user", "client"]
    id: uuid.UUID
    name: str


class AuditEntity(Output):
    type: str = Field(description='"product", "location", "user", "webhook", "client", "account"')
    id: str


class AuditEntryRead(Output):
    id: uuid.UUID
    at: datetime
    action: str = Field(description='What happened: "product.updated", "auth.login_failed", …')
    actor: AuditActor | None = Field(description="Who did it; null when no one authenticated")
    entity: AuditEntity
    changes: dict[str, list[Any]] = Field(
        description="field → [before, after], only the fields that changed; a secret's "
        'values are "[redacted]"'
    )
    request_id: str | None = Field(description="The X-Request-ID of the request that did it")
    client_ip: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryRead:
        return cls(
            id=entry.id,
            at=entry.at,
            action=entry.action,
            actor=None if entry.actor is None else AuditActor.model_validate(entry.actor),
            entity=AuditEntity(type=entry.entity_type, id=entry.entity_id),
            changes=entry.changes,
            request_id=entry.request_id,
            client_ip=entry.client_ip,
        )
