"""Users: the caller's own profile, and administration (admin only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from src.api.deps import CanManageUsers, CurrentUser, Pagination, UserServiceDep
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.dependencies import ClientAddress
from src.schemas.filter import UserFilter
from src.schemas.pagination import Page
from src.schemas.user import (
    PasswordChange,
    UserAdminCreate,
    UserAdminUpdate,
    UserRead,
    UserSelfUpdate,
)

router = PrefixRouter(prefix=f"{API_V1}/users", tags=["users"])

AUTH_ERRORS = (401,)
ADMIN_ERRORS = (401, 403)


@router.get("/me", operation_id="getCurrentUser", responses=problem_responses(*AUTH_ERRORS))
async def read_me(user: CurrentUser) -> UserRead:
    """The authenticated user."""
    return UserRead.model_validate(user)


@router.patch(
    "/me", operation_id="updateCurrentUser", responses=problem_responses(*AUTH_ERRORS, 422)
)
async def update_me(body: UserSelfUpdate, user: CurrentUser, service: UserServiceDep) -> UserRead:
    """Change the authenticated user's full name."""
    return UserRead.model_validate(await service.update_me(user, body))


@router.post(
    "/me/password",
    operation_id="changePassword",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(*AUTH_ERRORS, 409, 422, 429, 503),
)
async def change_password(
    body: PasswordChange, user: CurrentUser, service: UserServiceDep, client: ClientAddress
) -> None:
    """Change the password; every session of the user ends. Attempts are limited per user and
    client address like logins (429); 409 when the password changed during the request."""
    await service.change_password(user, body, client=client)


@router.post(
    "",
    operation_id="createUser",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*ADMIN_ERRORS, 409, 422, 429),
)
async def create_user(
    body: UserAdminCreate, _: CanManageUsers, service: UserServiceDep, response: Response
) -> UserRead:
    """Create a user with a role (viewer unless given); works whether or not self-service
    registration is open."""
    user = await service.create_user(body)
    response.headers["Location"] = f"{API_V1}/users/{user.id}"
    return UserRead.model_validate(user)


@router.get("", operation_id="listUsers", responses=problem_responses(*ADMIN_ERRORS, 400, 422))
async def list_users(
    _: CanManageUsers,
    service: UserServiceDep,
    paging: Pagination,
    filters: Annotated[UserFilter, Query()],
) -> Page[UserRead]:
    """List users, oldest first; filter by role, active flag, or email/name substring."""
    page = await service.list_users(
        filters, codec=paging.codec, cursor=paging.cursor, limit=paging.limit
    )
    return Page[UserRead](
        items=[UserRead.model_validate(u) for u in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{user_id}", operation_id="getUser", responses=problem_responses(*ADMIN_ERRORS, 404, 422)
)
async def read_user(user_id: uuid.UUID, _: CanManageUsers, service: UserServiceDep) -> UserRead:
    """One user by id."""
    return UserRead.model_validate(await service.get_user(user_id))


@router.patch(
    "/{user_id}",
    operation_id="updateUser",
    responses=problem_responses(*ADMIN_ERRORS, 404, 409, 422),
)
async def update_user(
    user_id: uuid.UUID, body: UserAdminUpdate, _: CanManageUsers, service: UserServiceDep
) -> UserRead:
    """Change a user's role, active flag or name (the last active admin must stay one)."""
    return UserRead.model_validate(await service.update_user(user_id, body))
