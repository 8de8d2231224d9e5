from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import UTC, datetime

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import undefer

from src.core.cursors import CursorCodec
from src.core.prepared import fetch
from src.models.refresh_session import RefreshSession
from src.models.user import ActiveUser, Role, User
from src.repositories.base import PageResult, Repository, SortOrder, contains_any
from src.schemas.filter import UserFilter

BY_CREATED = SortOrder("created_at", (User.created_at, User.id))

_users = User.__table__
_sessions = RefreshSession.__table__
# Built once: a Core statement with bound parameters, its compiled form cached by
# SQLAlchemy; the row becomes an `ActiveUser` positionally, in the dataclass' field order.
_ACTIVE_IN_SESSION = select(*(_users.c[f.name] for f in fields(ActiveUser))).where(
    _users.c.id == bindparam("user_id"),
    _users.c.is_active.is_(True),
    exists().where(
        _sessions.c.family_id == bindparam("session_id"),
        _sessions.c.user_id == _users.c.id,
        _sessions.c.revoked_at.is_(None),
        _sessions.c.expires_at > func.now(),
    ),
)


class UserRepository(Repository[User]):
    model = User

    async def get_by_email(self, email: str, *, with_password: bool = False) -> User | None:
        # Callers pass the canonical form (src.core.emails); lower() on both sides is what the
        # unique index uq_users_email_lower compares.
        statement = select(User).where(func.lower(User.email) == func.lower(email))
        if with_password:
            statement = statement.options(undefer(User.hashed_password))
        return await self.session.scalar(statement)

    async def get_active_in_session(
        self, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> ActiveUser | None:
        """The user, if active and `session_id` is one of their live sessions (a refresh-token
        family neither revoked nor expired): one query, run for every authenticated request."""
        rows = await fetch(
            self.session, _ACTIVE_IN_SESSION, {"user_id": user_id, "session_id": session_id}
        )
        if not rows:
            return None
        row = rows[0]
        return ActiveUser(**(row | {"role": Role(row["role"])}))  # the column's string

    async def rename(self, user_id: uuid.UUID, full_name: str) -> User | None:
        """Set the full name; the updated user (None if gone), in one statement."""
        statement = (
            update(User)
            .where(User.id == user_id)
            .values(full_name=full_name)
            .returning(User)
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(statement)

    async def lock_sessions_of(self, user_id: uuid.UUID) -> User | None:
        """Lock the user row before issuing or revoking any of its refresh tokens.

        Every operation on a user's sessions (login, refresh, logout, password change,
        deactivation) takes this lock first, so a revocation always sees every token issued
        before it, and no token is issued from a state a revocation has already ended.
        """
        statement = (
            select(User)
            .where(User.id == user_id)
            .options(undefer(User.hashed_password))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(statement)

    async def lock_active_admins(self) -> list[User]:
        """Lock every active admin row, so concurrent demotions are decided one at a time."""
        statement = (
            select(User)
            .where(User.role == Role.ADMIN, User.is_active.is_(True))
            .order_by(User.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list((await self.session.scalars(statement)).all())

    async def set_password(self, user: User, hashed: str) -> None:
        await self.session.execute(
            update(User)
            .where(User.id == user.id)
            # The application clock, like the tokens' iat it is compared with.
            .values(hashed_password=hashed, password_changed_at=datetime.now(UTC))
        )

    async def list_page(
        self, filters: UserFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[User]:
        statement = select(User)
        if filters.role is not None:
            statement = statement.where(User.role == filters.role)
        if filters.is_active is not None:
            statement = statement.where(User.is_active.is_(filters.is_active))
        if filters.q:
            statement = statement.where(contains_any(filters.q, User.email, User.full_name))
        return await self.paginate(
            statement, order=BY_CREATED, codec=codec, cursor=cursor, limit=limit
        )

    async def password_of(self, user_id: uuid.UUID) -> str | None:
        """The stored password hash, read without loading (or locking) the user."""
        statement = select(User.hashed_password).where(User.id == user_id)
        return await self.session.scalar(statement)
