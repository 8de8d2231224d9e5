"""Dependencies for routers: the services they call and who the caller is.

Every route declares the one scope it needs, `Require(Scope.…)`, and gets the caller as a
`Principal` (a user or an API client). A person's role implies scopes (src.core.scopes), so
the same check serves people and systems.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from asgi_correlation_id import correlation_id
from fastapi import Depends, Header, Query, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2
from fastapi.security.utils import get_authorization_scheme_param

from src.api.v1.prefix import API_V1
from src.config import Settings
from src.core.cursors import CursorCodec
from src.core.exceptions import Forbidden, InsufficientScope, Unauthorized
from src.core.ratelimit import Limit
from src.core.scopes import CLIENT_SCOPES, ROLE_SCOPES, SCOPE_DESCRIPTIONS, Scope
from src.core.secretbox import SecretBox
from src.dependencies import (
    BrokerDep,
    CursorCodecDep,
    DatabaseDep,
    RateLimiterDep,
    RedisDep,
    SessionDep,
    SettingsDep,
    UnitOfWorkDep,
)
from src.models.principal import Principal
from src.models.user import ActiveUser, Role
from src.schemas.base import explained
from src.services.allocation.service import AllocationService
from src.services.api_client import ApiClientService
from src.services.audit import AuditService
from src.services.auth import AuthPolicy, AuthService, Grant
from src.services.catalog import LocationService, ProductService
from src.services.health import HealthService
from src.services.ledger import LedgerService
from src.services.reservation import ReservationService
from src.services.shipment import ShipmentService
from src.services.stock import StockService
from src.services.stream import StreamService
from src.services.unit_of_work import UnitOfWork
from src.services.user import UserService
from src.services.webhook.endpoint import WebhookPolicy, WebhookService

TOKEN_URL = f"{API_V1}/auth/token"
# The name the OpenAPI document has always given the scheme: generated clients and their
# configurations refer to it, so it stays although the scheme now has two flows.
SCHEME_NAME = "OAuth2PasswordBearer"


class BearerScheme(OAuth2):
    """An access token from the token endpoint, as `Authorization: Bearer`. In OpenAPI, both
    ways to get one: people log in (password flow, Swagger UI's Authorize), systems use the
    client credentials grant. Each flow lists the scopes it can hold, and each operation's
    security requirement names the one it needs. A missing token gives None
    (`auto_error=False`): `_authenticate` answers with our 401 problem, not FastAPI's body."""

    def __init__(self) -> None:
        people = {str(scope): text for scope, text in SCOPE_DESCRIPTIONS.items()}
        systems = {str(s): text for s, text in SCOPE_DESCRIPTIONS.items() if s in CLIENT_SCOPES}
        super().__init__(
            flows=OAuthFlows(
                password=OAuthFlowPassword(tokenUrl=TOKEN_URL, scopes=people),
                clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes=systems),
            ),
            scheme_name=SCHEME_NAME,
            description="A person's role implies scopes (a password login needs no `scope`); "
            "an API client holds the scopes it was given, a token may ask for fewer.",
            auto_error=False,
        )

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        return token if scheme.lower() == "bearer" and token else None


oauth2_scheme = BearerScheme()


async def get_health_service(
    session: SessionDep, redis: RedisDep, settings: SettingsDep
) -> HealthService:
    return HealthService(session, redis, timeout=settings.database.db_connect_timeout)


def build_auth_policy(settings: Settings) -> AuthPolicy:
    """Built once per app (parsing the limits on every request showed in profiles)."""
    return AuthPolicy(
        refresh_ttl=timedelta(seconds=settings.auth.refresh_token_ttl_seconds),
        refresh_grace=timedelta(seconds=settings.auth.refresh_reuse_grace_seconds),
        registration_open=settings.registration_is_open,
        login_per_account=Limit.parse("login-account", settings.auth.login_rate_limit_per_account),
        login_per_client=Limit.parse("login-client", settings.auth.login_rate_limit_per_client),
        register_per_client=Limit.parse(
            "register-client", settings.auth.login_rate_limit_per_client
        ),
        login_per_account_all_clients=Limit.parse(
            "login-account-all", settings.auth.login_rate_limit_per_account_all_clients
        ),
        known_client_seconds=settings.auth.login_known_client_seconds,
        login_per_device=Limit.parse("login-device", settings.auth.login_rate_limit_per_account),
        login_device_budget=Limit.parse(
            "login-device-budget", settings.auth.login_rate_limit_per_device
        ),
        device_ttl_seconds=settings.auth.device_token_ttl_seconds,
        password_change=Limit.parse("password-change", settings.auth.login_rate_limit_per_account),
    )


def build_webhook_policy(settings: Settings) -> WebhookPolicy:
    """Built once per app, with the key box that seals signing secrets."""
    return WebhookPolicy(
        box=SecretBox(settings.secret_key or "", settings.secret_key_previous),
        allow_private_targets=settings.webhooks.webhook_allow_private_targets,
        require_https=not settings.is_development,
        secret_overlap=timedelta(hours=settings.webhooks.webhook_secret_overlap_hours),
        max_endpoints=settings.webhooks.webhook_max_endpoints,
    )


def _auth_service(request: Request, work: UnitOfWork) -> AuthService:
    state = request.app.state
    policy: AuthPolicy = state.auth_policy
    return AuthService(
        work,
        tokens=state.tokens,
        limiter=state.rate_limiter,
        policy=policy,
        clients=state.client_auth,
    )


async def get_auth_service(request: Request, work: UnitOfWorkDep) -> AuthService:
    return _auth_service(request, work)


async def get_user_service(
    request: Request, work: UnitOfWorkDep, limiter: RateLimiterDep
) -> UserService:
    policy: AuthPolicy = request.app.state.auth_policy
    return UserService(work, limiter=limiter, policy=policy)


async def get_api_client_service(request: Request, work: UnitOfWorkDep) -> ApiClientService:
    return ApiClientService(work, request.app.state.client_secrets)


async def get_product_service(work: UnitOfWorkDep) -> ProductService:
    return ProductService(work)


async def get_location_service(work: UnitOfWorkDep) -> LocationService:
    return LocationService(work)


async def get_stock_service(work: UnitOfWorkDep) -> StockService:
    return StockService(work)


async def get_reservation_service(work: UnitOfWorkDep) -> ReservationService:
    return ReservationService(work)


async def get_allocation_service(work: UnitOfWorkDep) -> AllocationService:
    return AllocationService(work)


async def get_shipment_service(work: UnitOfWorkDep) -> ShipmentService:
    return ShipmentService(work)


async def get_audit_service(work: UnitOfWorkDep) -> AuditService:
    return AuditService(work)


async def get_ledger_service(work: UnitOfWorkDep) -> LedgerService:
    return LedgerService(work.session)


async def get_stream_service(
    database: DatabaseDep, broker: BrokerDep, codec: CursorCodecDep
) -> StreamService:
    return StreamService(database.session_factory, broker, codec)


async def get_webhook_service(request: Request, work: UnitOfWorkDep) -> WebhookService:
    policy: WebhookPolicy = request.app.state.webhook_policy
    return WebhookService(work, policy)


HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
UserServiceDep = Annotated[UserService, Depends(get_user_service)]
ApiClientServiceDep = Annotated[ApiClientService, Depends(get_api_client_service)]
ProductServiceDep = Annotated[ProductService, Depends(get_product_service)]
LocationServiceDep = Annotated[LocationService, Depends(get_location_service)]
StockServiceDep = Annotated[StockService, Depends(get_stock_service)]
AuditServiceDep = Annotated[AuditService, Depends(get_audit_service)]
LedgerServiceDep = Annotated[LedgerService, Depends(get_ledger_service)]
ReservationServiceDep = Annotated[ReservationService, Depends(get_reservation_service)]
AllocationServiceDep = Annotated[AllocationService, Depends(get_allocation_service)]
ShipmentServiceDep = Annotated[ShipmentService, Depends(get_shipment_service)]
StreamServiceDep = Annotated[StreamService, Depends(get_stream_service)]
WebhookServiceDep = Annotated[WebhookService, Depends(get_webhook_service)]


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None
    codec: CursorCodec


async def page_params(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PageParams:
    codec: CursorCodec = request.app.state.cursors  # not a dependency: see _authenticate
    return PageParams(limit=limit, cursor=cursor, codec=codec)


Pagination = Annotated[PageParams, Depends(page_params)]


async def request_id() -> str | None:
    return correlation_id.get()


RequestId = Annotated[str | None, Depends(request_id)]
# 1..255 printable ASCII characters, per the contract.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=explained(r"^[\x20-\x7E]{1,255}$", "must be 1 to 255 printable ASCII characters"),
        description="Makes the POST safe to retry: a retry with the same key and body replays "
        "the first response; kept at least 24 h.",
    ),
]
IfMatchHeader = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatchHeader = Annotated[str | None, Header(alias="If-None-Match")]


BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


async def _authenticate(request: Request, token: str | None, work: UnitOfWork) -> Grant:
    """The caller, checked on every request. Its services are built here rather than as
    dependencies, and each guard below calls this itself rather than depending on another
    guard: each dependency FastAPI resolves costs more than the call it wraps."""
    if "ticket" in request.query_params:
        # A stream ticket is no access token: refused outright, even beside a valid one, so
        # a page that leaks it into other URLs finds out at once.
        raise Unauthorized(
            "A stream ticket (?ticket=) only opens event streams; "
            "send 'Authorization: Bearer <token>' here",
            invalid_token=True,
        )
    if not token:
        raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'")
    grant = await _auth_service(request, work).authenticate(token)
    work.actor = grant.principal.actor  # the author of whatever this request writes
    return grant


def authorize(principal: Principal, scope: Scope) -> Principal:
    """The one check for people and systems. A person whose role lacks the scope gets the
    `forbidden` problem v1 always gave; a client (or a narrowed token) gets
    `insufficient-scope`, naming the scope (RFC 6750 §3.1)."""
    if scope in principal.scopes:
        return principal
    if principal.client is None:
        raise Forbidden(_ROLE_NEEDED[scope])
    if scope not in CLIENT_SCOPES:
        raise InsufficientScope(
            scope, "Users and API clients are managed by people only, never by an API client"
        )
    raise InsufficientScope(scope)


def _role_needed(scope: Scope) -> str:
    role = next(r for r in Role if scope in ROLE_SCOPES[r.value])
    return f"This action needs the {role.value} role or higher"


_ROLE_NEEDED = {scope: _role_needed(scope) for scope in Scope}


def _guard(scope: Scope) -> Callable[[Request, str | None, UnitOfWork], Awaitable[Principal]]:
    async def guard(request: Request, token: BearerToken, work: UnitOfWorkDep) -> Principal:
        grant = await _authenticate(request, token, work)
        return authorize(grant.principal, scope)

    guard.__name__ = f"require_{scope.value.replace(':', '_')}"
    return guard


# One guard per scope, built once: FastAPI resolves a dependency once per request by callable.
_GUARDS = {scope: _guard(scope) for scope in Scope}


def Require(scope: Scope) -> Any:
    """A route's one declaration of what it needs: `caller: Annotated[Principal,
    Require(Scope.STOCK_WRITE)]`. As a `Security` dependency, its scope lands in the
    operation's OpenAPI security requirement, where generated clients and /docs show it."""
    return Security(_GUARDS[scope], scopes=[scope.value])


# The route declarations, one per scope (src.core.scopes says which roles hold each).
CanReadCatalog = Annotated[Principal, Require(Scope.CATALOG_READ)]
CanWriteCatalog = Annotated[Principal, Require(Scope.CATALOG_WRITE)]
CanReadStock = Annotated[Principal, Require(Scope.STOCK_READ)]
CanWriteStock = Annotated[Principal, Require(Scope.STOCK_WRITE)]
CanReserve = Annotated[Principal, Require(Scope.RESERVATIONS_WRITE)]
CanShip = Annotated[Principal, Require(Scope.SHIPMENTS_WRITE)]
CanReadEvents = Annotated[Principal, Require(Scope.EVENTS_READ)]
CanImport = Annotated[Principal, Require(Scope.IMPORTS_WRITE)]
CanManageWebhooks = Annotated[Principal, Require(Scope.WEBHOOKS_MANAGE)]
CanReadAudit = Annotated[Principal, Require(Scope.AUDIT_READ)]
CanManageUsers = Annotated[Principal, Require(Scope.USERS_MANAGE)]
CanManageClients = Annotated[Principal, Require(Scope.CLIENTS_MANAGE)]


async def get_events_grant(request: Request, token: BearerToken, work: UnitOfWorkDep) -> Grant:
    grant = await _authenticate(request, token, work)
    authorize(grant.principal, Scope.EVENTS_READ)
    return grant


# The caller and its credential, to mint a stream ticket (which opens event streams only).
EventsGrant = Annotated[Grant, Security(get_events_grant, scopes=[Scope.EVENTS_READ.value])]


async def get_current_user(request: Request, token: BearerToken, work: UnitOfWorkDep) -> ActiveUser:
    principal = authorize((await _authenticate(request, token, work)).principal, Scope.ACCOUNTS)
    if principal.user is None:  # cannot happen: ACCOUNTS is a people-only scope
        raise InsufficientScope(Scope.ACCOUNTS)
    return principal.user


# The person calling, for their own account (/users/me): an API client gets 403.
CurrentUser = Annotated[ActiveUser, Security(get_current_user, scopes=[Scope.ACCOUNTS.value])]


# Every dependency that checks a scope, with the scope it checks: a route's one declaration
# is one of these, declared as a `Security` dependency with that same scope (the test that
# walks the routes holds them to it; the stream endpoints' guard lives in src.api.streams).
GUARD_SCOPES: dict[Callable[..., Any], Scope] = {
    **{guard: scope for scope, guard in _GUARDS.items()},
    get_events_grant: Scope.EVENTS_READ,
    get_current_user: Scope.ACCOUNTS,
}
