"""Readiness: is every dependency this instance needs reachable right now?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.exceptions import ServiceUnavailable
from src.core.logging import get_logger
from src.repositories.health import HealthRepository
from src.schemas.health import CheckRead, ReadinessRead

log = get_logger(__name__)


class HealthService:
    def __init__(self, session: AsyncSession, redis: Redis | None, *, timeout: float) -> None:
        self.repository = HealthRepository(session)
        self.redis = redis
        self.timeout = timeout

    async def readiness(self) -> ReadinessRead:
        """All checks, or ServiceUnavailable carrying them when one is down."""
        checks = {
            "database": await self._check("database", self.repository.ping()),
            "redis": (
                await self._check("redis", _ping_redis(self.redis))
                if self.redis is not None
                else CheckRead(status="disabled")
            ),
        }
        report = ReadinessRead(
            status="ok" if all(c.status != "down" for c in checks.values()) else "down",
            checks=checks,
        )
        if report.status == "down":
            down = ", ".join(name for name, c in checks.items() if c.status == "down")
            raise ServiceUnavailable(
                f"Not ready: {down} unreachable",
                checks=report.model_dump(mode="json")["checks"],
            )
        return report

    async def _check(self, name: str, probe: Awaitable[None]) -> CheckRead:
        start = time.perf_counter()
        try:
            await asyncio.wait_for(probe, timeout=self.timeout)
        except (TimeoutError, OSError, SQLAlchemyError, RedisError) as exc:
            # The exception text may hold a DSN; log its type only.
            log.warning("readiness_check_failed", check=name, error=type(exc).__name__)
            return CheckRead(status="down", detail=f"{name} is unreachable")
        return CheckRead(status="ok", latency_ms=round((time.perf_counter() - start) * 1000, 2))


async def _ping_redis(client: Redis) -> None:
    await client.ping()
