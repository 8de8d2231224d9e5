"""The audit log: every change outside the ledger (the ledger is its own audit) and every
security event, with its author, written in the transaction of the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, UUIDPrimaryKey

# The actor's id as the actor filter compares it (this expression index serves it).
_ACTOR_ID = text("(actor ->> 'id')")


class AuditEntry(UUIDPrimaryKey, Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        # The list pages newest first by (at, id); since/until and the retention purge are
        # ranges on `at`: one index serves the three.
        Index("ix_audit_entries_at_id", "at", "id"),
        # Each filter keeps the page order after its equality, so a filtered page is a
        # range scan too, however rare the entries it asks for. The entity's id leads (one
        # entity's history is asked for by its id alone too; its type adds nothing to it);
        # a type alone is a filter on the newest-first walk.
        Index("ix_audit_entries_action_at_id", "action", "at", "id"),
        Index("ix_audit_entries_entity_at_id", "entity_id", "entity_type", "at", "id"),
        Index("ix_audit_entries_actor_id_at_id", _ACTOR_ID, "at", "id"),
    )

    # When the change's transaction began (the entries of one request share it).
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    action: Mapped[str] = mapped_column(Text)
    # {"type": "user"|"client", "id", "name"}; null for work no one authenticated asked for
    # (a failed login, a registration, the command line).
    actor: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str] = mapped_column(Text)
    # field → [before, after], only the fields that changed; secrets are "[redacted]".
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(Text, default=None)
    client_ip: Mapped[str | None] = mapped_column(Text, default=None)
