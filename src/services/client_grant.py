"""The client credentials grant (RFC 6749 §4.4) and the check of a client's token on each
request: an API client gets access tokens with its own credentials, never a person's."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from src.core.client_secrets import MAX_CREDENTIAL_LENGTH, ClientSecrets
from src.core.exceptions import InvalidClient, OAuthError, Unauthorized
from src.core.ratelimit import Limit, RateLimiter
from src.core.scopes import Scope, parse_scopes, scope_text
from src.core.tokens import TokenCodec
from src.models.api_client import ApiClient
from src.models.principal import Principal
from src.repositories.api_client import ApiClientRepository
from src.schemas.auth import TokenResponse
from src.services.client_usage import ClientUsage

_BAD_CLIENT = "Client authentication failed: unknown client, wrong secret, or inactive client"
_SCOPE_NAMES = frozenset(Scope)


@dataclass(frozen=True)
class ClientCredentials:
    """What a token request presented: from HTTP Basic (`basic`) or from the form."""

    client_id: str
    client_secret: str
    basic: bool


def presented_credentials(
    authorization: str | None, client_id: str | None, client_secret: str | None
) -> ClientCredentials:
    """The client's credentials, from `Authorization: Basic` (RFC 6749 §2.3.1: id and secret
    each form-urlencoded, then joined by a colon and base64-encoded) or from the form fields;
    one way only (RFC 6749 §2.3)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        if not client_id or not client_secret:
            raise InvalidClient(
                "Client authentication required: HTTP Basic, or client_id and client_secret",
                basic=False,
            )
        return ClientCredentials(client_id, client_secret, basic=False)
    if client_secret is not None:
        raise OAuthError(
            "invalid_request", "Send the client's credentials one way: HTTP Basic or the form"
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("The Basic credentials are not valid base64", basic=True) from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("The Basic credentials must be client_id:client_secret", basic=True)
    presented = ClientCredentials(unquote_plus(raw_id), unquote_plus(raw_secret), basic=True)
    if client_id is not None and client_id != presented.client_id:
        raise OAuthError("invalid_request", "client_id differs from the Basic credentials")
    return presented


@dataclass(frozen=True)
class ClientAuth:
    """What checking API clients takes besides the database, built once per app."""

    tokens: TokenCodec
    secrets: ClientSecrets
    limiter: RateLimiter
    # Token requests per client_id (TOKEN_RATE_LIMIT_PER_CLIENT_ID).
    per_client: Limit
    usage: ClientUsage


class ClientGrant:
    """Issues a client's access tokens, and checks them again on every request."""

    def __init__(self, clients: ApiClientRepository, auth: ClientAuth) -> None:
        self.clients = clients
        self.tokens = auth.tokens
        self.secrets = auth.secrets
        self.limiter = auth.limiter
        self.per_client = auth.per_client
        self.usage = auth.usage

    async def issue(self, credentials: ClientCredentials, scope: str | None) -> TokenResponse:
        """An access token for the client, granting `scope` (a subset of the client's
        scopes; all of them when absent). No refresh token: the client asks again."""
        basic = credentials.basic
        if not credentials.client_id or len(credentials.client_id) > MAX_CREDENTIAL_LENGTH:
            raise InvalidClient(_BAD_CLIENT, basic=basic)
        # Charged before the secret is checked, so concurrent guesses cannot slip in under it.
        await self.limiter.hit(self.per_client, credentials.client_id)
        client = await self.clients.find_by_client_id(credentials.client_id)
        if client is None or not self._genuine(client, credentials.client_secret):
            raise InvalidClient(_BAD_CLIENT, basic=basic)
        held = frozenset(Scope(s) for s in client.scopes if s in _SCOPE_NAMES)
        granted = held if not (scope or "").strip() else parse_scopes(scope or "")
        if granted is None or not granted <= held:
            raise OAuthError(
                "invalid_scope", "scope must list only scopes this client holds, space-separated"
            )
        if not granted:
            raise OAuthError("invalid_scope", "This client holds no scope of this API")
        self.usage.record(client.id)
        text = scope_text(granted)
        return TokenResponse(
            access_token=self.tokens.issue_client_access(
                client.id, scopes=text, rate_limit=client.rate_limit
            ),
            expires_in=self.tokens.ttl_seconds,
            scope=text,
        )

    def _genuine(self, client: ApiClient, secret: str) -> bool:
        """Active, not revoked, and the secret is the current one or, during a rotation's
        overlap, the one it replaced."""
        if not client.is_active or client.revoked_at is not None:
            return False
        if len(secret) > MAX_CREDENTIAL_LENGTH:
            return False
        if self.secrets.matches(secret, client.secret_hash):
            return True
        until = client.previous_valid_until
        return (
            until is not None
            and datetime.now(UTC) < until
            and self.secrets.matches(secret, client.previous_secret_hash)
        )

    async def current(self, client_id: uuid.UUID, scopes: frozenset[str], what: str) -> Principal:
        """The client a token names, if still active; its token dies once the client no
        longer holds every scope the token grants (checked on every request, no cache)."""
        client = await self.clients.get_active(client_id)
        if client is None:
            raise Unauthorized(
                f"The {what} is no longer valid: its client was revoked or deactivated",
                invalid_token=True,
            )
        granted = frozenset(Scope(s) for s in scopes if s in _SCOPE_NAMES)
        if len(granted) != len(scopes) or not granted <= client.scopes:
            raise Unauthorized(
                f"The {what} is no longer valid: its client's scopes changed; get a new token",
                invalid_token=True,
            )
        self.usage.record(client.id)
        return Principal.of_client(client, granted)
