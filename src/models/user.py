from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, validates

from src.core.emails import email_skeleton
from src.models.base import Base, Timestamps, UUIDPrimaryKey, trigram_index


class Role(StrEnum):
    """Ordered from least to most privileged; each role can do what those below it can."""

    VIEWER = "viewer"
    CLERK = "clerk"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {role: rank for rank, role in enumerate(Role)}


@dataclass(frozen=True, slots=True)
class ActiveUser:
    """The caller as checked for one request: a plain immutable row, no ORM state (building
    an entity showed in every request's profile). A service that writes to the user loads
    the `User` itself, inside its transaction."""

    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    password_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_created_at_id", "created_at", "id"),
        CheckConstraint("role IN ('viewer', 'clerk', 'manager', 'admin')", name="role_valid"),
    )

    email: Mapped[str] = mapped_column(String(320))
    # The address's TR39 confusable skeleton, set with it (`_skeleton` below); unique, so
    # the database refuses a look-alike of an existing account even under a race.
    email_skeleton: Mapped[str] = mapped_column(Text)
    # Deferred: loaded only where a password is checked, never by accident into a response.
    hashed_password: Mapped[str] = mapped_column(String(255), deferred=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            create_constraint=False,
            length=16,
            values_callable=lambda roles: [r.value for r in roles],
        ),
        default=Role.VIEWER,
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)

    @validates("email")
    def _skeleton(self, _key: str, email: str) -> str:
        self.email_skeleton = email_skeleton(email)
        return email


# Case-insensitive uniqueness; also the index every lookup by email uses.
Index("uq_users_email_lower", func.lower(User.email), unique=True)
Index("uq_users_email_skeleton", User.email_skeleton, unique=True)
# Substring search (?q=) on email and name: trigram GIN indexes, as for products.
trigram_index("ix_users_email_trgm", User.email)
trigram_index("ix_users_full_name_trgm", User.full_name)
