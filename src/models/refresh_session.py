from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, UUIDPrimaryKey


class RefreshSession(UUIDPrimaryKey, Base):
    """One issued refresh token. Rotation adds a row to the same family; reuse of a used
    token revokes the family (except a replay of the token just replaced within the grace
    window). The family id is the session id access tokens carry (`sid`). Only a hash of
    the token is stored."""

    __tablename__ = "refresh_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Absolute: rotation never extends a family past its first login's expiry. Indexed for
    # the background purge of expired rows.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
