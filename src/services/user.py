"""User profile and administration rules, including "never lose the last admin"."""

from __future__ import annotations

import uuid
from typing import Any

from src.core.cursors import CursorCodec
from src.core.database import release
from src.core.exceptions import Conflict, NotFound, Unauthorized, ValidationFailed
from src.core.passwords import hash_password, verify_password
from src.core.ratelimit import RateLimiter
from src.models.user import ActiveUser, Role, User
from src.repositories.base import PageResult
from src.repositories.refresh_session import RefreshSessionRepository
from src.repositories.user import UserRepository
from src.schemas.filter import UserFilter
from src.schemas.user import PasswordChange, UserAdminCreate, UserAdminUpdate, UserSelfUpdate
from src.services.account import add_user
from src.services.auth import AuthPolicy
from src.services.unit_of_work import UnitOfWork


class UserService:
    def __init__(
        self,
        work: UnitOfWork,
        *,
        limiter: RateLimiter | None = None,
        policy: AuthPolicy | None = None,
    ) -> None:
        self.work = work
        self.session = session = work.session
        self.users = UserRepository(session)
        self.sessions = RefreshSessionRepository(session)
        # Only password changes need them (the CLI's ensure_admin does not).
        self.limiter = limiter
        self.policy = policy

    async def update_me(self, user: ActiveUser, data: UserSelfUpdate) -> User:
        updated = await self.users.rename(user.id, data.full_name)
        if updated is None:
            raise Unauthorized("The access token is no longer valid", invalid_token=True)
        if updated.full_name != user.full_name:
            self._audit_update(user.id, {"full_name": (user.full_name, updated.full_name)})
        return updated

    async def change_password(self, user: ActiveUser, data: PasswordChange, *, client: str) -> None:
        """Set a new password and end every session of the user.

        Throttled like login, per user and client address, charged before the check. No
        pooled connection or row lock is held while Argon2 runs: read the hash, end the
        read-only transaction, check and hash, then write in a short transaction that first
        makes sure the hash did not change meanwhile.
        """
        if self.limiter is None or self.policy is None:
            raise RuntimeError("UserService needs a limiter and policy to change passwords")
        user_id, throttle_key = user.id, f"{user.id}|{client}"
        await self.limiter.hit(self.policy.password_change, throttle_key)
        current = await self.users.password_of(user_id)
        await release(self.session)
        matches, _ = await verify_password(data.current_password, current)
        if not matches:
            raise ValidationFailed(
                "The current password is incorrect", loc=["body", "current_password"]
            )
        new_hash = await hash_password(data.new_password)
        stored = await self.users.lock_sessions_of(user_id)
        if stored is None or stored.hashed_password != current:
            raise Conflict("The password was changed meanwhile; log in again")
        await self.users.set_password(stored, new_hash)
        await self.sessions.revoke_all_for_user(user_id)
        # Secret-like: the unit of work writes "[redacted]" for both values.
        self.work.audit("user.password_changed", "user", user_id, {"password": (None, None)})
        await self.limiter.reset(self.policy.password_change, throttle_key)

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
        # Deactivation ends every session (refresh and access tokens alike), and so does a
        # reactivation, in case the deactivation was made outside the API: nothing issued
        # before comes back.
        ends_sessions = changes.get("is_active", user.is_active) is not user.is_active
        changed = {
            field: (getattr(user, field), value)
            for field, value in changes.items()
            if getattr(user, field) != value
        }
        for field, value in changes.items():
            setattr(user, field, value)
        self._audit_update(user.id, changed)
        if ends_sessions:
            await self.sessions.revoke_all_for_user(user.id)
        await self.session.flush()
        return user

    async def create_user(self, data: UserAdminCreate) -> User:
        """An admin creates a user with a role (409 when the email is taken)."""
        # The admin's own lookup opened a transaction: end it before Argon2 runs.
        await release(self.session)
        return await add_user(
            self.work,
            "user.created",
            email=data.email,
            password=data.password,
            full_name=data.full_name,
            role=data.role,
        )

    async def ensure_admin(self, *, email: str, password: str, full_name: str) -> tuple[User, bool]:
        """Create an admin, or promote (and re-activate) an existing user. (user, created)."""
        user = await self.users.get_by_email(email)
        if user is None:
            created = await add_user(
                self.work,
                "user.created",
                email=email,
                password=password,
                full_name=full_name,
                role=Role.ADMIN,
            )
            return created, True
        if not user.is_active:
            # As for a reactivation through the API: nothing issued before comes back.
            await self.sessions.revoke_all_for_user(user.id)
        self._audit_update(
            user.id,
            {
                field: (before, after)
                for field, before, after in (
                    ("role", user.role, Role.ADMIN),
                    ("is_active", user.is_active, True),
                )
                if before != after
            },
        )
        user.role = Role.ADMIN
        user.is_active = True
        await self.session.flush()
        return user, False

    def _audit_update(self, user_id: uuid.UUID, changed: dict[str, tuple[Any, Any]]) -> None:
        """One entry per kind of change, so each can be filtered on by its action: the role,
        the activation, and the rest (the name)."""
        rest = dict(changed)
        if "role" in rest:
            self.work.audit("user.role_changed", "user", user_id, {"role": rest.pop("role")})
        if "is_active" in rest:
            active = rest.pop("is_active")
            action = "user.activated" if active[1] else "user.deactivated"
            self.work.audit(action, "user", user_id, {"is_active": active})
        if rest:
            self.work.audit("user.updated", "user", user_id, rest)
