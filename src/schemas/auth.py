from typing import Literal

from pydantic import Field

from src.schemas.base import Absent, InputSchema, Output, left_out


class TokenResponse(Output):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the RFC 6750 type name
    expires_in: int
    refresh_token: str | Absent = left_out(
        "Password and refresh grants: the refresh token (the client credentials grant issues"
        " none: a system asks for a new access token with its credentials)"
    )
    device_token: str | Absent = left_out(
        "Password grant only: this device's token. Send it back as the `Stockroom-Device`"
        " header on later logins to keep logging in while the account is locked for new"
        " devices (browsers get it as an HttpOnly cookie too)"
    )
    scope: str | Absent = left_out(
        "Client credentials grant only: the scopes the token grants, space-separated"
    )


class StreamTicket(Output):
    ticket: str = Field(
        description="Opaque; send it as `?ticket=` to open event streams, and nowhere else"
    )
    expires_in: int = Field(
        ge=0, description="Seconds it stays valid (reusable meanwhile), never past the access token"
    )


class OAuthErrorResponse(Output):
    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "invalid_scope",
        "unsupported_grant_type",
    ]
    error_description: str


class LogoutRequest(InputSchema):
    refresh_token: str = Field(min_length=1, max_length=512)
