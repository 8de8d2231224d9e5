"""User profile and administration rules, including "never lose the last admin"."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.cursors import CursorCodec
from src.core.exceptions import Conflict, NotFound, ValidationFailed
from src.core.passwords import hash_password, verify_password
from src.models.user import Role, User
from src.repositories.base import PageResult
from src.repositories.refresh_session import RefreshSessionRepository
from src.repositories.user import UserRepository
from src.schemas.filters import UserFilter
from src.schemas.user import PasswordChange, UserAdminUpdate, UserSelfUpdate


class UserService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.sessions = RefreshSessionRepository(session)

    async def update_me(self, user: User, data: UserSelfUpdate) -> User:
        user.full_name = data.full_name
        await self.session.flush()
        return user

    async def change_password(self, user: User, data: PasswordChange) -> None:
        """Set a new password and end every session of the user."""
        stored = await self.users.lock_sessions_of(user.id)
        matches, _ = await verify_password(
            data.current_password, stored.hashed_password if stored else None
        )
        if not matches:
            raise ValidationFailed(
                "The current password is incorrect", loc=["body", "current_password"]
            )
        await self.users.set_password(user, await hash_password(data.new_password))
        await self.sessions.revoke_all_for_user(user.id)

    async def list_users(
        self, filters: UserFilter, *, codec: CursorCodec, cursor: str | None, limit: int
    ) -> PageResult[User]:
        return await self.users.list_page(filters, codec=codec, cursor=cursor, limit=limit)

    async def get_user(self, user_id: uuid.UUID) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound("No user with this id")
        return user

    async def update_user(self, user_id: uuid.UUID, data: UserAdminUpdate) -> User:
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        admins: list[User] = []
        if "role" in changes or "is_active" in changes:
            # Lock the admin set first, always in the same order, so two admins demoting
            # each other at once are decided one after the other (no deadlock, no zero-admin).
            admins = await self.users.lock_active_admins()
        user = await self.users.get_for_update(user_id)
        if user is None:
            raise NotFound("No user with this id")
        loses_admin = (
            user.role is Role.ADMIN
            and user.is_active
            and (
                changes.get("role", Role.ADMIN) is not Role.ADMIN
                or changes.get("is_active") is False
            )
        )
        if loses_admin and len(admins) <= 1:
            raise Conflict("The last active admin cannot be demoted or deactivated")
        for field, value in changes.items():
            setattr(user, field, value)
        if changes.get("is_active") is False:
            await self.sessions.revoke_all_for_user(user.id)
        await self.session.flush()
        return user

    async def ensure_admin(self, *, email: str, password: str, full_name: str) -> tuple[User, bool]:
        """Create an admin, or promote (and re-activate) an existing user. (user, created)."""
        user = await self.users.get_by_email(email)
        if user is None:
            user = User(
                email=email,
                hashed_password=await hash_password(password),
                full_name=full_name,
                role=Role.ADMIN,
            )
            return await self.users.add(user), True
        user.role = Role.ADMIN
        user.is_active = True
        await self.session.flush()
        return user, False
