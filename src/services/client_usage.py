"""When each API client was last seen, kept to the minute without a write per request.

Requests only note the time in this process's memory (`ClientUsage.record`: no I/O, no
lock); a job flushes what was noted every CLIENT_USAGE_FLUSH_SECONDS, and once more at
shutdown, in one set-based UPDATE that writes only values over a minute newer than the
stored ones.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.repositories.api_client import ApiClientRepository


class ClientUsage:
    """Client id → when this process last saw it (Unix time), until the next flush."""

    def __init__(self) -> None:
        self._seen: dict[uuid.UUID, float] = {}

    def record(self, client: uuid.UUID) -> None:
        self._seen[client] = time.time()

    def drain(self) -> dict[uuid.UUID, datetime]:
        """What was noted since the last drain, emptied at once (requests keep noting)."""
        seen, self._seen = self._seen, {}
        return {client: datetime.fromtimestamp(at, UTC) for client, at in seen.items()}

    def restore(self, pending: dict[uuid.UUID, datetime]) -> None:
        """Put back a drain whose flush failed; a newer sighting wins."""
        for client, at in pending.items():
            stamp = at.timestamp()
            if self._seen.get(client, 0.0) < stamp:
                self._seen[client] = stamp


async def flush_client_usage(factory: async_sessionmaker[AsyncSession], usage: ClientUsage) -> int:
    """Write the noted sightings: one short transaction, one statement. The number of
    clients whose `last_used_at` moved."""
    pending = usage.drain()
    if not pending:
        return 0
    try:
        async with factory() as session, session.begin():
            return await ApiClientRepository(session).record_use(pending)
    except BaseException:
        usage.restore(pending)  # tried again at the next flush
        raise
