"""Password hashing and webhook DNS lookups run in thread pools of their own, each bounded:
lookups stuck on a black-holed DNS server fill only theirs and never delay a login."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_mock import MockerFixture

from src.core import passwords
from src.core.passwords import hash_password, verify_password
from src.core.thread_pools import ThreadPool
from src.core.webhook.targets import UnsafeTarget, configure_lookups, resolve_checked
from tests.support.factories import TEST_HASH_COST

GOOD = "correct horse battery staple"
# More lookups than the loop's default executor has threads (at most 32).
STUCK = 40


class BlackHole:
    """A DNS server that never answers: lookups of its names block until `release()`, in
    whatever thread they run; any other name resolves as usual."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.calls = 0
        self.threads: set[str] = set()
        self._real = socket.getaddrinfo

    def getaddrinfo(self, host: Any, *args: Any, **kwargs: Any) -> Any:
        if not str(host).endswith(".blackholed.example"):
            return self._real(host, *args, **kwargs)
        with self.lock:
            self.calls += 1
            self.now += 1
            self.most = max(self.most, self.now)
            self.threads.add(threading.current_thread().name)
        self.released.wait(30)  # the resolver's timeout, at the latest
        with self.lock:
            self.now -= 1
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    def release(self) -> None:
        self.released.set()

    async def running(self, count: int) -> None:
        async with asyncio.timeout(5):
            while self.now < count:  # noqa: ASYNC110 - counted by threads, not the loop
                await asyncio.sleep(0.01)


@pytest.fixture
def black_hole(mocker: MockerFixture) -> Iterator[BlackHole]:
    hole = BlackHole()
    mocker.patch.object(socket, "getaddrinfo", side_effect=hole.getaddrinfo)
    previous = passwords._cost
    configure_lookups(threads=2)
    passwords.configure_hashing(
        concurrency=2, max_wait_seconds=5, memory_kib=TEST_HASH_COST[0], time_cost=TEST_HASH_COST[1]
    )
    try:
        yield hole
    finally:
        hole.release()  # never leave a thread blocked behind the test
        configure_lookups(threads=16)
        passwords.configure_hashing(
            concurrency=4, max_wait_seconds=5.0, memory_kib=previous[0], time_cost=previous[1]
        )


def lookup(name: str) -> asyncio.Task[list[str]]:
    return asyncio.ensure_future(resolve_checked(name, 443, allow_private=False))


async def login_hashing(seconds: float) -> tuple[bool, float]:
    """A login's Argon2 work (a hash, then its check): whether it matched, and how long it
    took (`seconds`, when it had not finished by then)."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            hashed = await hash_password(GOOD)
            matches, _ = await verify_password(GOOD, hashed)
    except TimeoutError:
        return False, seconds
    return matches, time.monotonic() - started


async def test_lookups_stuck_on_a_black_holed_dns_server_do_not_delay_logins(
    black_hole: BlackHole,
) -> None:
    stuck = [lookup(f"hooks{n}.blackholed.example") for n in range(STUCK)]
    try:
        await black_hole.running(2)
        matches, took = await login_hashing(3)
        still_stuck = sum(not task.done() for task in stuck)
    finally:
        black_hole.release()
        results = await asyncio.gather(*stuck, return_exceptions=True)

    assert took < 1.0, f"a login's hashing waited {took:.2f} s behind DNS lookups"
    assert matches is True
    assert still_stuck == STUCK  # the lookups were stuck all along
    assert all(isinstance(result, UnsafeTarget) for result in results)
    assert "does not resolve to public addresses only" in str(results[0])


async def test_the_lookup_pool_is_bounded_and_the_rest_wait(black_hole: BlackHole) -> None:
    stuck = [lookup(f"hooks{n}.blackholed.example") for n in range(6)]
    try:
        await black_hole.running(2)
        await asyncio.sleep(0.2)  # time for any more threads to start, were there any
        at_once = (black_hole.now, black_hole.most, black_hole.calls)
    finally:
        black_hole.release()
        results = await asyncio.gather(*stuck, return_exceptions=True)

    assert at_once == (2, 2, 2)
    assert all(name.startswith("stockroom-dns") for name in black_hole.threads)
    assert all(isinstance(result, UnsafeTarget) for result in results)
    assert black_hole.most == 2


async def test_a_lookup_given_up_while_waiting_never_runs(black_hole: BlackHole) -> None:
    stuck = [lookup(f"hooks{n}.blackholed.example") for n in range(2)]
    await black_hole.running(2)
    # A registration's check gives up after its timeout while its lookup still waits for a
    # thread: the lookup leaves the queue instead of running later for nobody.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await resolve_checked("late.blackholed.example", 443, allow_private=False)

    black_hole.release()
    await asyncio.gather(*stuck, return_exceptions=True)
    await asyncio.sleep(0.2)
    assert black_hole.calls == 2


async def test_hashing_runs_in_its_own_threads(
    black_hole: BlackHole, mocker: MockerFixture
) -> None:
    seen: set[str] = set()
    real = passwords._hasher.hash

    def hash_here(password: str) -> str:
        seen.add(threading.current_thread().name)
        return real(password)

    mocker.patch.object(passwords._hasher, "hash", side_effect=hash_here)
    await asyncio.gather(*(hash_password(GOOD) for _ in range(6)))

    assert seen
    assert all(name.startswith("stockroom-hash") for name in seen)


def test_a_pool_refuses_zero_threads_and_resizes() -> None:
    pool = ThreadPool("stockroom-test", 2)
    with pytest.raises(ValueError, match="at least one thread"):
        pool.resize(0)
    pool.resize(3)
    assert pool.threads == 3


async def test_a_resized_pool_runs_work_in_its_new_threads() -> None:
    pool = ThreadPool("stockroom-test", 1)
    first = await pool.run(lambda: threading.current_thread().name)
    pool.resize(2)
    names = set(
        await asyncio.gather(*(pool.run(lambda: threading.current_thread().name) for _ in range(4)))
    )
    assert first.startswith("stockroom-test")
    assert all(name.startswith("stockroom-test") for name in names)
    assert len(names) <= 2
