"""How long an event stream may run: at the latest until the access token that opened it (or
minted its ticket) expires, and only while its user is active, its password unchanged and its
session live (an API client: active, not revoked, still holding every scope of the token).
Re-checked every STREAM_AUTH_RECHECK_SECONDS with the one query every request runs, never per
event."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.logging import get_logger
from src.repositories.api_client import ApiClientRepository
from src.repositories.user import UserRepository
from src.services.auth import Grant, still_current

log = get_logger(__name__)

EXPIRED = "expired"
REVOKED = "revoked"
UNVERIFIED = "unverified"


class StreamAccessService:
    """Streams outlive their request's transaction: each re-check opens its own session."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, recheck_seconds: float
    ) -> None:
        self.session_factory = session_factory
        self.recheck_seconds = recheck_seconds

    async def until_ended(self, grant: Grant) -> str:
        """Return once a stream opened with `grant` must end, naming why."""
        while True:
            remaining = (grant.expires_at - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                reason = EXPIRED
                break
            await asyncio.sleep(min(self.recheck_seconds, remaining))
            if datetime.now(UTC) >= grant.expires_at:
                reason = EXPIRED
                break
            reason = await self._check(grant)
            if reason:
                break
        log.info(
            "event_stream_access_ended",
            reason=reason,
            caller=grant.principal.actor.type,
            caller_id=str(grant.principal.id),
        )
        return reason

    async def _check(self, grant: Grant) -> str:
        """ "" while the grant holds, else why not."""
        principal = grant.principal
        try:
            async with self.session_factory() as session:
                if principal.client is not None:
                    client = await ApiClientRepository(session).get_active(principal.id)
                    # Ends once the client no longer holds every scope the token granted.
                    held = client is not None and principal.scopes <= client.scopes
                else:
                    user = await UserRepository(session).get_active_in_session(
                        principal.id, grant.session
                    )
                    held = user is not None and still_current(user, grant.authenticated_at)
        except (SQLAlchemyError, OSError) as exc:
            # Cannot tell: end the stream; its client reconnects and is checked afresh.
            log.warning("event_stream_recheck_failed", error=type(exc).__name__)
            return UNVERIFIED
        return "" if held else REVOKED
