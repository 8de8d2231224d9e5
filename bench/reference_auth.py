"""The reference's caller check and JSON answers, shared by its endpoints: Stockroom's
check of an access token (PyJWT, HS256 pinned, `kid`, issuer, audience, every claim
required), then in one query the active user and the token's live session (or the API
client's row: `reference_client.py`)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jwt
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bench.reference_client import active_client

SECRET_KEY = os.environ.get("SECRET_KEY", "")
ISSUER = os.environ.get("JWT_ISSUER", "stockroom")
AUDIENCE = os.environ.get("JWT_AUDIENCE", "stockroom-api")
KID = hashlib.sha256(b"stockroom-kid:" + SECRET_KEY.encode()).hexdigest()[:16]
REQUIRED = ["sub", "sid", "exp", "iat", "nbf", "jti", "iss", "aud", "type"]
RANKS = {"viewer": 0, "clerk": 1, "manager": 2, "admin": 3}

# The user, if active and the token's session is live: Stockroom's one query per request.
USER = (
    "SELECT email, full_name, role, is_active, password_changed_at, id, created_at, updated_at"
    " FROM users WHERE id = $1 AND is_active AND EXISTS (SELECT 1 FROM refresh_sessions s"
    " WHERE s.family_id = $2 AND s.user_id = users.id AND s.revoked_at IS NULL"
    " AND s.expires_at > now())"
)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=_plain, separators=(",", ":")).encode()


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(value), status, headers, media_type="application/json")


async def authenticate(
    request: Request, conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record]
) -> Any:
    """Stockroom's check: a valid access token, then the active user and live session it
    names (or the active API client), in one query."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "Authentication required")
    try:
        if jwt.get_unverified_header(token).get("kid") != KID:
            raise ValueError("unknown signing key")
        claims = jwt.decode(
            token,
            SECRET_KEY,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=5,
            options={"require": REQUIRED},
        )
        if claims["type"] != "access":
            raise ValueError("not an access token")
        subject = uuid.UUID(str(claims["sub"]))
        session_id = uuid.UUID(str(claims["sid"]))
        issued_at = datetime.fromtimestamp(claims["iat"], UTC)
    except (jwt.PyJWTError, ValueError, TypeError):
        raise HTTPException(401, "The access token is invalid or expired") from None
    if claims.get("kind") == "client":
        return await active_client(conn, subject, claims.get("scope"))
    user = await conn.fetchrow(USER, subject, session_id)
    if user is None:
        raise HTTPException(401, "The access token is no longer valid")
    changed = user["password_changed_at"]
    if changed is not None and issued_at < changed:
        raise HTTPException(401, "The password changed; log in again")
    return user


def pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool  # type: ignore[no-any-return]
