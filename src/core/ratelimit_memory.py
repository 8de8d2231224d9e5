"""An in-process storage for `limits`, through its storage extension point.

`limits`' own in-memory storages expire entries from a background thread (the asyncio one
hands every hit to a thread pool, the synchronous one starts a `threading.Timer` every 10 ms
while hits arrive), which costs more CPU per request than the rest of rate limiting
(figures: bench/README.md, "Where each request's CPU goes"); this storage prunes as it goes
and sweeps idle keys on access, with no thread. The moving window's rules are the library's:
the strategy (`limits.strategies.MovingWindowRateLimiter`) is unchanged, and so is when an
entry is refused and how a window is counted.
"""

from __future__ import annotations

import bisect
import time

from limits.storage import MovingWindowSupport, Storage

# How often idle keys (no entry inside their window) are dropped, in seconds.
_SWEEP_SECONDS = 10.0


class InProcessStorage(Storage, MovingWindowSupport):
    """Moving windows and expiring counters in this process's memory (one event loop)."""

    STORAGE_SCHEME = ["stockroom+memory"]  # noqa: RUF012 - the type `limits` declares

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_: str) -> None:
        # Per key: entry times, oldest first (at most `limit` of them), and the expiry.
        self.events: dict[str, tuple[list[float], int]] = {}
        self.counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self.next_sweep = time.time() + _SWEEP_SECONDS
        super().__init__(uri, wrap_exceptions=wrap_exceptions)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        self._sweep(now)
        entries = self.events.get(key, ([], expiry))[0]
        # Entries older than the window count for nothing any more.
        del entries[: bisect.bisect_left(entries, now - expiry)]
        # Refused when the `limit - amount + 1`-th newest entry is still inside the window.
        if len(entries) > limit - amount:
            return False
        entries.extend([now] * amount)
        if len(entries) > limit:
            del entries[: len(entries) - limit]
        self.events[key] = (entries, expiry)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(start of the window: its oldest entry, entries in the window)."""
        now = time.time()
        entries = self.events.get(key, ([], expiry))[0]
        first = bisect.bisect_right(entries, now - expiry)
        if first == len(entries):
            return now, 0
        return entries[first], len(entries) - first

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        self._sweep(now)
        count, expires = self.counters.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + expiry
        self.counters[key] = (count + amount, expires)
        return count + amount

    def get(self, key: str) -> int:
        count, expires = self.counters.get(key, (0, 0.0))
        return count if expires > time.time() else 0

    def get_expiry(self, key: str) -> float:
        return self.counters.get(key, (0, time.time()))[1]

    def clear(self, key: str) -> None:
        self.counters.pop(key, None)
        self.events.pop(key, None)

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        cleared = len(self.counters) + len(self.events)
        self.counters.clear()
        self.events.clear()
        return cleared

    def _sweep(self, now: float) -> None:
        """Drop keys with nothing left inside their window, every _SWEEP_SECONDS."""
        if now < self.next_sweep:
            return
        self.next_sweep = now + _SWEEP_SECONDS
        self.events = {
            key: (entries, expiry)
            for key, (entries, expiry) in self.events.items()
            if entries and entries[-1] > now - expiry
        }
        self.counters = {key: value for key, value in self.counters.items() if value[1] > now}
