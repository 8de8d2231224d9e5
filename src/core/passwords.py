"""Password policy and hashing.

Argon2id through pwdlib: no input-length limit (a 100-character password is verified exactly
as typed, never truncated as bcrypt does at 72 bytes). Hashing is CPU-bound for ~0.1 s, so it
runs in a thread of its own pool (`src.core.thread_pools.HASHING`, one thread per allowed
hash) to keep the event loop serving other requests, whatever else waits on threads.

Hashes run at most `concurrency` at a time in the process (each also takes 64 MiB): a flood of
logins or password changes then queues here, holding no database connection, instead of
filling the thread pool and memory. A caller that waits longer than `max_wait_seconds` gets
RateLimited (429 with Retry-After): the server is busy, try again shortly.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from src.core.exceptions import RateLimited
from src.core.thread_pools import HASHING

MIN_LENGTH = 8
MAX_LENGTH = 128

# pwdlib's recommended Argon2id (64 MiB, 3 passes) until the settings say otherwise.
_cost = (65536, 3)
_hasher = PasswordHash((Argon2Hasher(memory_cost=_cost[0], time_cost=_cost[1]),))
# Verified against when the email is unknown, so both paths cost the same time (made again
# whenever the cost changes).
_DUMMY_PASSWORD = "timing-equaliser-not-a-real-password"  # noqa: S105 - matches no account
_DUMMY_HASH = _hasher.hash(_DUMMY_PASSWORD)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_policy_problem(password: str) -> str | None:
    """Why `password` may not be used, or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if not password.strip():
        return "must not be only whitespace"
    if password.lower() in _common_passwords():
        return "is too common; choose one that is not on lists of leaked passwords"
    return None


@dataclass(frozen=True)
class HashingLimits:
    concurrency: int = 4
    max_wait_seconds: float = 5.0


_limits = HashingLimits()
# One semaphore per event loop (an asyncio primitive belongs to one loop); replaced when the
# limits change.
_gates: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[HashingLimits, asyncio.Semaphore]
] = weakref.WeakKeyDictionary()
_T = TypeVar("_T")


def configure_hashing(
    *,
    concurrency: int,
    max_wait_seconds: float,
    memory_kib: int = 65536,
    time_cost: int = 3,
) -> None:
    """Set the process-wide bound and the cost of new hashes (the app does so from its
    settings at start-up)."""
    global _limits, _cost, _hasher, _DUMMY_HASH
    _limits = HashingLimits(concurrency, max_wait_seconds)
    _gates.clear()
    HASHING.resize(concurrency)
    if (memory_kib, time_cost) != _cost:
        _cost = (memory_kib, time_cost)
        _hasher = PasswordHash((Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost),))
        _DUMMY_HASH = _hasher.hash(_DUMMY_PASSWORD)


def _gate() -> tuple[HashingLimits, asyncio.Semaphore]:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None or gate[0] != _limits:
        gate = _gates[loop] = (_limits, asyncio.Semaphore(_limits.concurrency))
    return gate


async def _bounded(work: Callable[..., _T], *args: str) -> _T:
    limits, semaphore = _gate()
    try:
        async with asyncio.timeout(limits.max_wait_seconds):
            await semaphore.acquire()
    except TimeoutError:
        raise RateLimited(
            "Too many password checks in progress; try again shortly",
            retry_after=math.ceil(limits.max_wait_seconds),
        ) from None
    try:
        return await HASHING.run(work, *args)
    finally:
        semaphore.release()


async def hash_password(password: str) -> str:
    return await _bounded(_hasher.hash, password)


async def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the stored one uses outdated parameters)."""
    if hashed is None:
        await _bounded(_hasher.verify, password, _DUMMY_HASH)
        return False, None
    return await _bounded(_hasher.verify_and_update, password, hashed)
