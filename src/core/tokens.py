"""Access tokens (JWT, HS256 pinned) and opaque refresh tokens.

Every claim is required on decode, the algorithm is fixed by the server (never read from the
token), and `kid` names the key so keys in SECRET_KEY_PREVIOUS keep verifying during a
rotation. An access token names its session (`sid`, the refresh-token family) so ending the
session ends the token. Refresh tokens are random strings; a rotation's successor is derived
from the token it replaces (an HMAC), so a replay within the grace window can be answered
with the same successor without storing it. Only SHA-256 hashes of refresh tokens are stored.

Stream tickets (`?ticket=` for browsers' EventSource, which cannot send headers) are JWTs too,
with their own audience and type, so neither kind is ever accepted as the other. An API
client's access token is an access token with `kind` "client" and the `scope` it grants. A ticket
carries its access token's session, issue time and expiry: it is no stronger than the token
that minted it, and a stream it opens ends when that token would have.

Device tokens (OWASP's device cookies) have an audience and type of their own as well. One
names the account it was issued to (a digest of the canonical email, the same before the
password is checked as after), the account's credential at the time (a digest of its
password hash: a password change makes every earlier device token worthless), when, and a
random device id; it proves only that this device logged into that account before, never
who the caller is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"
ACCESS = "access"
STREAM_TICKET = "stream_ticket"
DEVICE = "device"
# The `kind` claim of an API client's access token (a person's has none).
CLIENT = "client"
_REQUIRED = ["sub", "exp", "iat", "nbf", "jti", "iss", "aud", "type", "sid"]
_TICKET_REQUIRED = [*_REQUIRED, "auth_time", "access_exp"]
_DEVICE_REQUIRED = ["sub", "exp", "iat", "jti", "iss", "aud", "type", "cred"]
_LEEWAY_SECONDS = 5
# Verified tokens remembered per process: clients send the same token for its whole life, and
# each request would otherwise verify it twice (rate limiter, then authentication).
_VERIFIED_MEMO_SIZE = 4096
_SUCCESSOR_CONTEXT = b"stockroom-refresh-successor:"


class InvalidToken(Exception):
    """The token is not one this server issued, or no longer valid."""


def key_id(key: str) -> str:
    """A public name for a key that reveals nothing about it."""
    return hashlib.sha256(b"stockroom-kid:" + key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AccessClaims:
    subject: uuid.UUID
    session: uuid.UUID
    token_id: str
    issued_at: datetime
    expires_at: datetime
    # An API client's token: `subject` is the client's id and `session` repeats it; `scopes`
    # are those the token was issued with, and `rate_limit` the client's then.
    client: bool = False
    scopes: frozenset[str] = frozenset()
    rate_limit: str | None = None


@dataclass(frozen=True)
class TicketClaims:
    subject: uuid.UUID
    session: uuid.UUID
    # Of the access token that minted the ticket: the password-change check and the latest
    # moment a stream opened with the ticket may run.
    access_issued_at: datetime
    access_expires_at: datetime
    expires_at: datetime
    # Minted by an API client's token: its scopes, as that token granted them.
    client: bool = False
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DeviceClaims:
    device: str  # the random id its own login limits are counted under
    issued_at: datetime
    credential: str  # `device_credential` of the account's password hash when issued


def device_subject(account: str) -> str:
    """What a device token names: the account's canonical email, digested (a token is
    readable by whoever holds it, and a log line may show it)."""
    return hashlib.sha256(b"stockroom-device:" + account.encode()).hexdigest()


def device_credential(hashed_password: str) -> str:
    """What a device token binds to: a digest of the account's password hash, which changes
    with every password change (and with a rehash at a new cost)."""
    return hashlib.sha256(b"stockroom-device-credential:" + hashed_password.encode()).hexdigest()


def credential_matches(claims: DeviceClaims, hashed_password: str) -> bool:
    return hmac.compare_digest(claims.credential, device_credential(hashed_password))


class TokenCodec:
    def __init__(
        self,
        *,
        secret_key: str,
        previous_keys: list[str],
        issuer: str,
        audience: str,
        ttl_seconds: int,
    ) -> None:
        self._signing_key = secret_key
        self._signing_kid = key_id(secret_key)
        self._keys = {key_id(k): k for k in [*previous_keys, secret_key]}
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.ticket_audience = f"{audience}/stream-ticket"
        self.device_audience = f"{audience}/device"
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def issue_access(
        self, subject: uuid.UUID, *, session: uuid.UUID, now: datetime | None = None
    ) -> str:
        return self._sign_access(self._access_claims(subject, session, now))

    def issue_client_access(
        self,
        client: uuid.UUID,
        *,
        scopes: str,
        rate_limit: str | None,
        now: datetime | None = None,
    ) -> str:
        """An access token for an API client (client credentials grant): `scope` holds the
        space-separated scopes it grants, `rl` the client's own rate limit (null: the
        default for clients), so the rate limiter needs no database read."""
        claims = self._access_claims(client, client, now)
        claims.update({"kind": CLIENT, "scope": scopes, "rl": rate_limit})
        return self._sign_access(claims)

    def _access_claims(
        self, subject: uuid.UUID, session: uuid.UUID, now: datetime | None
    ) -> dict[str, object]:
        """The claims every access token carries, a person's or a client's."""
        now = now or datetime.now(UTC)
        return {
            "sub": str(subject),
            "sid": str(session),
            # Sub-second iat: a token issued just after a password change (same second) must
            # survive the "issued before the change" check, and one issued before must not.
            "iat": now.timestamp(),
            "nbf": now,
            "exp": now + timedelta(seconds=self.ttl_seconds),
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
            "type": ACCESS,
        }

    def _sign_access(self, claims: dict[str, object]) -> str:
        return jwt.encode(
            claims, self._signing_key, algorithm=ALGORITHM, headers={"kid": self._signing_kid}
        )

    def decode_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token; InvalidToken otherwise.

        A token verified before is answered from memory until it expires: the same bytes
        under the same keys verify the same way. Revocation is not a property of the token
        (the caller checks the user and the session on every request), so nothing is
        missed."""
        known = self._verified.get(token)
        if known is not None and known.expires_at > datetime.now(UTC):
            return known
        claims = self._verify_access(token)
        self._verified[token] = claims
        if len(self._verified) > _VERIFIED_MEMO_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _verify_access(self, token: str) -> AccessClaims:
        claims = self._verify(token, self.audience, ACCESS, _REQUIRED)
        try:
            client = claims.get("kind") == CLIENT
            rate_limit = claims.get("rl") if client else None
            return AccessClaims(
                subject=uuid.UUID(str(claims["sub"])),
                session=uuid.UUID(str(claims["sid"])),
                token_id=str(claims["jti"]),
                issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                client=client,
                scopes=frozenset(str(claims["scope"]).split()) if client else frozenset(),
                rate_limit=str(rate_limit) if rate_limit is not None else None,
            )
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidToken(type(exc).__name__) from None

    def issue_stream_ticket(
        self,
        subject: uuid.UUID,
        *,
        session: uuid.UUID,
        access_issued_at: datetime,
        access_expires_at: datetime,
        ttl_seconds: int,
        scopes: str | None = None,
        now: datetime | None = None,
    ) -> tuple[str, datetime]:
        """A ticket for the access token's user and session, and its expiry: `ttl_seconds`
        from now, but never after the access token's own."""
        now = now or datetime.now(UTC)
        expires_at = min(now + timedelta(seconds=ttl_seconds), access_expires_at)
        claims = {
            "sub": str(subject),
            "sid": str(session),
            "iat": now.timestamp(),
            "nbf": now,
            "exp": expires_at,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.ticket_audience,
            "type": STREAM_TICKET,
            "auth_time": access_issued_at.timestamp(),
            "access_exp": access_expires_at.timestamp(),
        }
        if scopes is not None:  # an API client's (`subject` is the client's id)
            claims |= {"kind": CLIENT, "scope": scopes}
        ticket = jwt.encode(
            claims, self._signing_key, algorithm=ALGORITHM, headers={"kid": self._signing_kid}
        )
        return ticket, expires_at

    def decode_stream_ticket(self, ticket: str) -> TicketClaims:
        """The claims of a valid stream ticket; InvalidToken otherwise (an access token
        included). No leeway: a ticket is minted and used by the same server moments apart,
        so clock skew is no excuse, and it works no longer than its `expires_in` said."""
        claims = self._verify(
            ticket, self.ticket_audience, STREAM_TICKET, _TICKET_REQUIRED, leeway=0
        )
        try:
            return TicketClaims(
                subject=uuid.UUID(str(claims["sub"])),
                session=uuid.UUID(str(claims["sid"])),
                access_issued_at=datetime.fromtimestamp(float(claims["auth_time"]), UTC),
                access_expires_at=datetime.fromtimestamp(float(claims["access_exp"]), UTC),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                client=claims.get("kind") == CLIENT,
                scopes=frozenset(str(claims.get("scope", "")).split()),
            )
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidToken(type(exc).__name__) from None

    def issue_device(
        self,
        account: str,
        *,
        hashed_password: str,
        ttl_seconds: int,
        now: datetime | None = None,
    ) -> str:
        """A device token for the account (its canonical email) as it is now (its password
        hash), valid for `ttl_seconds`."""
        now = now or datetime.now(UTC)
        claims = {
            "sub": device_subject(account),
            "cred": device_credential(hashed_password),
            "iat": now.timestamp(),
            "exp": now + timedelta(seconds=ttl_seconds),
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.device_audience,
            "type": DEVICE,
        }
        return jwt.encode(
            claims, self._signing_key, algorithm=ALGORITHM, headers={"kid": self._signing_kid}
        )

    def decode_device(self, token: str, account: str) -> DeviceClaims | None:
        """The claims of a valid device token issued to `account`; None for anything else
        (forged, expired, another account's, another kind of token): an untrusted device.
        Whether the account's credential is still the one it names is the caller's check."""
        try:
            claims = self._verify(token, self.device_audience, DEVICE, _DEVICE_REQUIRED, leeway=0)
            if not hmac.compare_digest(str(claims["sub"]), device_subject(account)):
                return None
            return DeviceClaims(
                device=str(claims["jti"]),
                issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                credential=str(claims["cred"]),
            )
        except (InvalidToken, ValueError, TypeError, OverflowError):
            return None

    def _verify(
        self,
        token: str,
        audience: str,
        kind: str,
        required: list[str],
        *,
        leeway: int = _LEEWAY_SECONDS,
    ) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(str(header.get("kid")))
            if key is None:
                raise InvalidToken("unknown signing key")
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self.issuer,
                leeway=leeway,
                options={"require": required},
            )
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
            # OverflowError: a correctly signed claim no date can hold (exp = 10**20).
            raise InvalidToken(type(exc).__name__) from None
        if claims["type"] != kind:
            raise InvalidToken(f"not of type {kind}")
        return claims

    def refresh_successors(self, token: str) -> list[str]:
        """The refresh token that replaces `token`, under each key, the signing key's first.

        A rotation issues the first; a replay within the grace window looks for any of them,
        so a key rotation in between does not turn a replay into a theft."""
        keys = [self._signing_key, *(k for k in self._keys.values() if k != self._signing_key)]
        return [_successor(key, token) for key in keys]


def _successor(key: str, token: str) -> str:
    digest = hmac.digest(key.encode(), _SUCCESSOR_CONTEXT + token.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    # A fast hash is right here: the token has 256 bits of entropy, nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()
