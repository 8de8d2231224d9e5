"""Rate-limit counters from the `limits` library: in process memory when there is one
process, in Redis when REDIS_URL is set so every worker and instance shares one count."""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, WindowStats, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import Storage as InProcessStorageBase
from limits.strategies import MovingWindowRateLimiter as InProcessMovingWindow

from src.core.exceptions import RateLimited, ServiceUnavailable
from src.core.ratelimit_memory import InProcessStorage


def build_storage(
    redis_url: str | None, key_prefix: str = "LIMITS"
) -> Storage | InProcessStorageBase:
    """Redis when configured, else this process's memory (`src/core/ratelimit_memory.py`:
    `limits`' own in-memory storages spend their CPU on expiry threads).
    """
    if not redis_url:
        return InProcessStorage()
    uri = redis_url.replace("redis://", "async+redis://", 1).replace(
        "rediss://", "async+rediss://", 1
    )
    # redis-py (already a dependency) rather than the default coredis client.
    return RedisStorage(uri, implementation="redispy", wrap_exceptions=True, key_prefix=key_prefix)


@dataclass(frozen=True)
class Limit:
    """One named limit, e.g. ("login-account", "5/minute")."""

    name: str
    item: RateLimitItem

    @classmethod
    def parse(cls, name: str, text: str) -> Limit:
        return cls(name, parse(text))


@dataclass(frozen=True)
class RateLimitStatus:
    allowed: bool
    limit: int
    remaining: int
    reset_in: int

    def headers(self) -> dict[str, str]:
        """The IETF draft RateLimit header fields."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_in),
        }

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """`headers()` as ASGI header pairs (lower-case names)."""
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_in).encode()),
        ]


class RateLimiter:
    """A moving-window limiter that speaks in domain errors.

    (`limits`' sliding-window counter would keep less state per key, but its in-memory
    storage made tail latency several times worse under the benchmark's load: see
    bench/README.md, "Where each request's CPU goes".)

    Storage failures (Redis down) raise ServiceUnavailable from `hit`: logins fail closed
    rather than let an attacker guess passwords while the counter is gone.
    """

    def __init__(self, storage: Storage | InProcessStorageBase) -> None:
        self.storage = storage
        # A synchronous storage (in process memory) is called directly: nothing to await.
        self._limiter: MovingWindowRateLimiter | InProcessMovingWindow = (
            MovingWindowRateLimiter(storage)
            if isinstance(storage, Storage)
            else InProcessMovingWindow(storage)
        )

    async def hit(self, limit: Limit, key: str) -> None:
        """Count one event; RateLimited if that exceeds the limit."""
        try:
            allowed = await self._hit(limit, key)
        except StorageError:
            raise ServiceUnavailable("Rate limiting is unavailable; try again shortly") from None
        if not allowed:
            await self._refuse(limit, key)

    async def consume(self, limit: Limit, key: str) -> RateLimitStatus | None:
        """Count one event and report the window; None when the storage is unreachable
        (callers that guard ordinary traffic let it through rather than fail).

        Two storage calls: `limits`' moving window has no call that counts and reports
        at once (with Redis, two round trips)."""
        try:
            allowed = await self._hit(limit, key)
            stats = await self._stats(limit, key)
        except StorageError:
            return None
        reset_in = max(1, int(stats.reset_time - time.time()) + 1)
        return RateLimitStatus(allowed, limit.item.amount, stats.remaining, reset_in)

    async def reset(self, limit: Limit, key: str) -> None:
        """Forget the events counted for `key` (e.g. failed logins after a success)."""
        try:
            limiter = self._limiter
            if isinstance(limiter, InProcessMovingWindow):
                limiter.clear(limit.item, limit.name, key)
            else:
                await limiter.clear(limit.item, limit.name, key)
        except StorageError:
            raise ServiceUnavailable("Rate limiting is unavailable; try again shortly") from None

    async def remember(self, name: str, key: str, seconds: int) -> None:
        """Note `key` under `name` for `seconds` from now (again: the time starts over)."""
        try:
            if isinstance(self.storage, Storage):
                await self.storage.clear(f"{name}/{key}")
                await self.storage.incr(f"{name}/{key}", seconds)
            else:
                self.storage.clear(f"{name}/{key}")
                self.storage.incr(f"{name}/{key}", seconds)
        except StorageError:
            raise ServiceUnavailable("Rate limiting is unavailable; try again shortly") from None

    async def remembers(self, name: str, key: str) -> bool:
        """Whether `key` was noted under `name` and has not expired yet."""
        try:
            if isinstance(self.storage, Storage):
                return await self.storage.get(f"{name}/{key}") > 0
            return self.storage.get(f"{name}/{key}") > 0
        except StorageError:
            raise ServiceUnavailable("Rate limiting is unavailable; try again shortly") from None

    async def _hit(self, limit: Limit, key: str) -> bool:
        limiter = self._limiter
        if isinstance(limiter, InProcessMovingWindow):
            return limiter.hit(limit.item, limit.name, key)
        return await limiter.hit(limit.item, limit.name, key)

    async def _stats(self, limit: Limit, key: str) -> WindowStats:
        limiter = self._limiter
        if isinstance(limiter, InProcessMovingWindow):
            return limiter.get_window_stats(limit.item, limit.name, key)
        return await limiter.get_window_stats(limit.item, limit.name, key)

    async def _refuse(self, limit: Limit, key: str) -> None:
        try:
            stats = await self._stats(limit, key)
            retry_after = int(stats.reset_time - time.time()) + 1
        except StorageError:
            retry_after = limit.item.get_expiry()
        raise RateLimited("Too many attempts; try again later", retry_after=retry_after)
