"""Dedicated, bounded thread pools for blocking work, instead of the loop's default executor.

Password hashing (CPU-bound, ~0.1 s each) and the DNS lookups of webhook targets (which can
block for the resolver's whole timeout when a receiver's DNS server drops queries) each run
in threads of their own. A burst of lookups against a black-holed DNS server then fills only
the lookup pool, and its excess waits in that pool's queue: logins keep their threads. A
waiting call that is cancelled (its caller's timeout) leaves the queue without ever running.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")


class ThreadPool:
    """A named pool of at most `threads` threads, made on first use."""

    def __init__(self, name: str, threads: int) -> None:
        self.name = name
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        return self._threads

    def resize(self, threads: int) -> None:
        """Use at most `threads` threads from now on. Work already running in the old
        threads finishes there; nothing waits for it."""
        if threads < 1:
            raise ValueError("a thread pool needs at least one thread")
        with self._lock:
            if threads == self._threads:
                return
            self._threads = threads
            old, self._executor = self._executor, None
        if old is not None:
            old.shutdown(wait=False)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._threads, thread_name_prefix=self.name
                )
            return self._executor

    async def run(self, work: Callable[..., _T], *args: object) -> _T:
        """`work(*args)` in one of this pool's threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), functools.partial(work, *args))


# Sized from the settings at start-up (`configure_hashing`, `configure_lookups`).
HASHING = ThreadPool("stockroom-hash", 4)
LOOKUPS = ThreadPool("stockroom-dns", 16)
