from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, EmailStr, Field, StrictBool

from src.core.emails import valid_email
from src.core.passwords import MAX_LENGTH, MIN_LENGTH, password_policy_problem
from src.models.user import Role
from src.schemas.base import NOT_BLANK_PATTERN, InputSchema, Name, PatchSchema, Schema


def _check_password(value: str) -> str:
    problem = password_policy_problem(value)
    if problem:
        raise ValueError(f"password {problem}")
    return value


# Length is checked in the policy (not max_length) so the reason reads the same everywhere;
# the schema states the same bounds. Lists of leaked passwords are beyond any schema.
NewPassword = Annotated[
    str,
    Field(
        json_schema_extra={
            "minLength": MIN_LENGTH,
            "maxLength": MAX_LENGTH,
            "pattern": NOT_BLANK_PATTERN,
        }
    ),
    AfterValidator(_check_password),
]
# A password being checked, not set: any length up to a bound that keeps hashing cheap.
GivenPassword = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH * 8)]


# 254: the longest address SMTP can deliver, and what email-validator accepts. Stored in its
# canonical form (NFKC, case-folded); an address that mixes scripts is refused.
NewEmail = Annotated[EmailStr, Field(max_length=254), AfterValidator(valid_email)]


class UserCreate(InputSchema):
    email: NewEmail
    password: NewPassword
    full_name: Name


class UserAdminCreate(UserCreate):
    role: Role = Role.VIEWER


class UserSelfUpdate(InputSchema):
    full_name: Name


class UserAdminUpdate(PatchSchema):
    _not_nullable: ClassVar[tuple[str, ...]] = ("role", "is_active", "full_name")

    role: Role | None = None
    is_active: StrictBool | None = None
    full_name: Name | None = None


class PasswordChange(InputSchema):
    current_password: GivenPassword
    new_password: NewPassword


class UserRead(Schema):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime
