"""The job runner: each job in a task of its own, all stopped together.

A job is anything with a `name` and an async `run()` that goes on until cancelled.
`Periodic` sleeps its interval, then drains what is due (its step returns only when nothing
is left); `Continuous` wraps a loop of its own (the webhook worker). A new kind of job
(imports, a relay) is one more entry in the list `background_jobs` builds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from src.core.logging import get_logger

log = get_logger(__name__)


class Job(Protocol):
    @property
    def name(self) -> str: ...

    async def run(self) -> None: ...


@dataclass(frozen=True)
class Periodic:
    """Every `interval` seconds, `step()` drains what is due; a count it returns is logged
    as `{name}_{action}d`. A failure (a database outage) is logged and retried next time:
    it must not end the loop. With `at_start` the first pass runs at once (a worker, which
    may be restarted more often than an hourly job's interval), else after one interval."""

    name: str
    interval: float
    step: Callable[[], Awaitable[int | None]]
    action: str = "purge"
    at_start: bool = False

    async def run(self) -> None:
        wait = not self.at_start
        while True:
            if wait:
                await asyncio.sleep(self.interval)
            wait = True
            try:
                done = await self.step()
                if done:
                    log.info(f"{self.name}_{self.action}d", records=done)
            except Exception:
                log.warning(f"{self.name}_{self.action}_failed", exc_info=True)


@dataclass(frozen=True)
class Continuous:
    """A job with a loop of its own, which handles its own failures."""

    name: str
    loop: Callable[[], Awaitable[None]]

    async def run(self) -> None:
        await self.loop()


class JobRunner:
    """Runs jobs as tasks of the current event loop until `stop()`."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            self._tasks.append(asyncio.create_task(job.run(), name=f"job:{job.name}"))

    @property
    def names(self) -> list[str]:
        return [task.get_name().removeprefix("job:") for task in self._tasks]

    async def wait(self) -> None:
        """Until a job ends by itself (none should: that is a bug, raised here)."""
        if self._tasks:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()

    async def stop(self) -> None:
        """Cancel every job and wait for each to unwind (a step's transaction rolls back;
        its work is done again by the next pass, here or elsewhere)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
