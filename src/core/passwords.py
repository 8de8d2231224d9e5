"""Password policy and hashing.

Argon2id through pwdlib: no input-length limit (a 100-character password is verified exactly
as typed, never truncated as bcrypt does at 72 bytes). Hashing is CPU-bound for ~0.1 s, so it
runs in a worker thread to keep the event loop serving other requests.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from pwdlib import PasswordHash

MIN_LENGTH = 8
MAX_LENGTH = 128

_hasher = PasswordHash.recommended()
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("timing-equaliser-not-a-real-password")


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


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the stored one uses outdated parameters)."""
    if hashed is None:
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(_hasher.verify_and_update, password, hashed)
