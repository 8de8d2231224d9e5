"""API clients: credentials for systems (RFC 6749 §4.4, the client credentials grant)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, Timestamps, UUIDPrimaryKey


class ApiClient(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "api_clients"
    __table_args__ = (
        # Lists page by (created_at, id) over the clients not revoked.
        Index(
            "ix_api_clients_created_at_id",
            "created_at",
            "id",
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    # What the client authenticates as: public, random, never reused.
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # A limit such as "1200/minute"; null: RATE_LIMIT_CLIENT_DEFAULT.
    rate_limit: Mapped[str | None] = mapped_column(String(64), default=None)
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    # Keyed hashes (HMAC-SHA256) of the secret and, during a rotation's overlap, of the one
    # it replaced: a 256-bit random secret needs no slow hash.
    secret_hash: Mapped[str] = mapped_column(String(128))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    previous_valid_until: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    # Kept to the minute, written by a periodic flush rather than by each request.
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    # Revoked (DELETE): the row stays so records and the audit log can still name it.
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
