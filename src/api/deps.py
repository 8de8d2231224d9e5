"""Dependencies for routers: the services they call and who the caller is.

Role guards read like the contract: `RequireClerk`, `RequireManager`, `RequireAdmin`; each
role includes the ones below it (admin > manager > clerk > viewer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from src.core.exceptions import Forbidden, Unauthorized
from src.core.ratelimit import Limit
from src.dependencies import (
    RateLimiterDep,
    RedisDep,
    SessionDep,
    SettingsDep,
    TokenCodecDep,
)
from src.models.user import Role, User
from src.repositories.health import HealthRepository
from src.services.auth import AuthPolicy, AuthService
from src.services.health import HealthService
from src.services.users import UserService

# auto_error=False: a missing token becomes our 401 problem, not FastAPI's default body.
# tokenUrl makes Swagger UI's Authorize button log in through the token endpoint.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_health_service(
    session: SessionDep, redis: RedisDep, settings: SettingsDep
) -> HealthService:
    return HealthService(HealthRepository(session), redis, timeout=settings.db_connect_timeout)


def get_auth_service(
    session: SessionDep, settings: SettingsDep, tokens: TokenCodecDep, limiter: RateLimiterDep
) -> AuthService:
    policy = AuthPolicy(
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        registration_open=settings.registration_open,
        login_per_account=Limit.parse("login-account", settings.login_rate_limit_per_account),
        login_per_client=Limit.parse("login-client", settings.login_rate_limit_per_client),
    )
    return AuthService(session, tokens=tokens, limiter=limiter, policy=policy)


def get_user_service(session: SessionDep) -> UserService:
    return UserService(session)


HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
UserServiceDep = Annotated[UserService, Depends(get_user_service)]


async def get_current_user(
    token: Annotated[str | None, Depends(oauth2_scheme)], auth: AuthServiceDep
) -> User:
    if not token:
        raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'")
    return await auth.authenticate(token)


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(role: Role) -> Callable[[User], Awaitable[User]]:
    async def guard(user: CurrentUser) -> User:
        if not user.role.includes(role):
            raise Forbidden(f"This action needs the {role.value} role or higher")
        return user

    return guard


RequireClerk = Annotated[User, Depends(require_role(Role.CLERK))]
RequireManager = Annotated[User, Depends(require_role(Role.MANAGER))]
RequireAdmin = Annotated[User, Depends(require_role(Role.ADMIN))]
