"""Accounts: creating one (registration, an admin's, the command line's), and what the audit
log records of them: their creation, and the security events of logging in (failed and
throttled logins, a refresh token replayed).

A failed or throttled login names the account's user when one has that email. Otherwise
the entity is `{"type": "account", "id": <SHA-256 hex of the canonical email>}`: what was
typed as a username may be a password typed in the wrong field, so it is never stored; the
digest still tells attempts on one name apart, and an admin can check a suspected address
by computing its digest. Passwords never appear.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.exc import IntegrityError

from src.core.db_errors import EXPECTED_CONFLICTS
from src.core.passwords import hash_password
from src.models.user import Role, User
from src.repositories.base import violated_constraint
from src.repositories.user import UserRepository
from src.services.unit_of_work import UnitOfWork

_EMAIL_CONFLICTS = frozenset({"uq_users_email_lower", "uq_users_email_skeleton"})


async def add_user(
    work: UnitOfWork, action: str, *, email: str, password: str, full_name: str, role: Role
) -> User:
    """A new account, audited as `action` (user.registered, user.created); 409 when the
    email is taken, or looks like one that is (the same TR39 skeleton): the unique indexes
    decide, races included."""
    user = User(
        email=email,
        hashed_password=await hash_password(password),
        full_name=full_name,
        role=role,
    )
    try:
        await UserRepository(work.session).add(user)
    except IntegrityError as exc:
        constraint = violated_constraint(exc)
        if constraint in _EMAIL_CONFLICTS:
            # Still /problems/conflict (the published contract), but naming the field.
            raise EXPECTED_CONFLICTS[constraint]() from None
        raise
    work.audit(
        action,
        "user",
        user.id,
        {
            "email": (None, user.email),
            "full_name": (None, user.full_name),
            "role": (None, user.role),
            "is_active": (None, user.is_active),
        },
    )
    return user


def audit_login(work: UnitOfWork, action: str, account: str, user_id: uuid.UUID | None) -> None:
    """`auth.login_failed` or `auth.login_throttled`, for the account's user if it exists."""
    if user_id is not None:
        work.audit(action, "user", user_id)
    else:
        work.audit(action, "account", hashlib.sha256(account.encode()).hexdigest())


def audit_refresh_reused(work: UnitOfWork, user_id: uuid.UUID, family_id: uuid.UUID) -> None:
    """A refresh token used again outside the grace window: its whole session was ended."""
    work.audit("auth.refresh_reused", "user", user_id, {"session": (str(family_id), None)})
