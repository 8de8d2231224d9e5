"""Auth: registration, the OAuth2 token endpoint (RFC 6749), logout and stream tickets."""

from __future__ import annotations

from typing import Annotated

from fastapi import Cookie, Form, Header, Request, Response, status

from src.api.deps import AuthServiceDep, EventsGrant
from src.api.responses import problem_responses
from src.api.routing import PrefixRouter
from src.api.v1.prefix import API_V1
from src.core.exceptions import OAuthError
from src.dependencies import ClientAddress, SettingsDep
from src.schemas.auth import LogoutRequest, OAuthErrorResponse, StreamTicket, TokenResponse
from src.schemas.user import UserCreate, UserRead
from src.services.client_grant import presented_credentials

router = PrefixRouter(prefix=f"{API_V1}/auth", tags=["auth"])

# Optional on purpose: a missing field must be answered as RFC 6749 `invalid_request`,
# not as FastAPI's 422, because OAuth2 client libraries parse the former.
FormField = Annotated[str | None, Form()]

# A password login's device token (src/services/auth.py `_throttle`), sent back by API
# clients as this header and by browsers as this cookie, which only this endpoint receives.
DEVICE_HEADER = "Stockroom-Device"
DEVICE_COOKIE = "stockroom_device"
_DEVICE_HELP = (
    "The `device_token` of an earlier password login on this device: the account's limit"
    " across addresses does not apply to it (the device has its own). Invalid ones are ignored"
)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


@router.post(
    "/register",
    operation_id="register",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 409, 422, 429),
)
async def register(
    body: UserCreate, service: AuthServiceDep, client: ClientAddress, response: Response
) -> UserRead:
    """Create an account with the viewer role."""
    user = await service.register(body, client=client)
    response.headers["Location"] = f"{API_V1}/users/{user.id}"
    return UserRead.model_validate(user)


@router.post(
    "/token",
    operation_id="issueToken",
    responses={
        200: {
            "headers": {
                "Set-Cookie": {
                    "description": f"Password grant: `{DEVICE_COOKIE}`, the device token, for"
                    " browsers (HttpOnly, SameSite=Strict, Secure outside development, this"
                    " path only)",
                    "schema": {"type": "string"},
                }
            }
        },
        400: {"model": OAuthErrorResponse, "description": "RFC 6749 §5.2 error"},
        401: {
            "model": OAuthErrorResponse,
            "description": "Client credentials grant: `invalid_client` (unknown client, wrong"
            " secret, inactive or revoked client)",
            "headers": {
                "WWW-Authenticate": {
                    "description": '`Basic realm="stockroom"` when the client sent HTTP Basic',
                    "schema": {"type": "string"},
                }
            },
        },
        **problem_responses(429, 503),
    },
)
async def token(
    request: Request,
    service: AuthServiceDep,
    client: ClientAddress,
    response: Response,
    settings: SettingsDep,
    grant_type: FormField = None,
    username: FormField = None,
    password: FormField = None,
    refresh_token: FormField = None,
    scope: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
    device_header: Annotated[
        str | None, Header(alias=DEVICE_HEADER, description=_DEVICE_HELP)
    ] = None,
    device_cookie: Annotated[
        str | None, Cookie(alias=DEVICE_COOKIE, description=f"{_DEVICE_HELP} (browsers)")
    ] = None,
) -> TokenResponse:
    """Log in (grant_type=password), rotate a refresh token (grant_type=refresh_token), or
    get an API client's token (grant_type=client_credentials: the client's credentials as
    HTTP Basic, or as `client_id` and `client_secret`; `scope` narrows it)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    if _is_json(request.headers.get("content-type")):
        # A common mistake (JSON is what every other endpoint takes): say what to send instead.
        raise OAuthError(
            "invalid_request",
            "The token endpoint takes application/x-www-form-urlencoded (an HTML form),"
            " not JSON, as OAuth2 (RFC 6749) requires",
        )
    fields = (grant_type, username, password, refresh_token, scope, client_id, client_secret)
    if any("\x00" in (field or "") for field in fields):
        raise OAuthError("invalid_request", "Request fields must not contain NUL characters")
    if grant_type == "password":
        if not username or not password:
            raise OAuthError("invalid_request", "username and password are required")
        # Both when both came (a stale cookie must not hide a good header, nor the reverse).
        presented = [token for token in (device_header, device_cookie) if token]
        issued = await service.login(username, password, client=client, device_tokens=presented)
        if issued.device_token:
            # Path: the one endpoint that reads it (as the browser sees it, behind a proxy too).
            response.set_cookie(
                DEVICE_COOKIE,
                issued.device_token,
                max_age=settings.auth.device_token_ttl_seconds,
                path=request.url.path,
                secure=not settings.is_development,
                httponly=True,
                samesite="strict",
            )
        return issued
    if grant_type == "refresh_token":
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        return await service.refresh(refresh_token)
    if grant_type == "client_credentials":
        credentials = presented_credentials(
            request.headers.get("authorization"), client_id, client_secret
        )
        return await service.client_token(credentials, scope)
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


@router.post(
    "/logout",
    operation_id="logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,  # no body, so no Content-Type
    responses=problem_responses(422),
)
async def logout(body: LogoutRequest, service: AuthServiceDep) -> None:
    """End the session (refresh-token family) this refresh token belongs to."""
    await service.logout(body.refresh_token)


@router.post(
    "/stream-tickets",
    operation_id="createStreamTicket",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"description": "A ticket; it is no resource, so there is no Location"},
        **problem_responses(401, 429),
    },
)
async def create_stream_ticket(
    grant: EventsGrant, service: AuthServiceDep, settings: SettingsDep, response: Response
) -> StreamTicket:
    """A short-lived ticket that opens event streams (`?ticket=`) as the caller, for clients
    that cannot send headers (a browser's EventSource). Reusable until it expires, so the
    browser can reconnect by itself; any other endpoint refuses it."""
    response.headers["Cache-Control"] = "no-store"
    return service.stream_ticket(grant, ttl_seconds=settings.feed.stream_ticket_ttl_seconds)
