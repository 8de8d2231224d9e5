"""Password policy and Argon2id hashing: bounds, common passwords, no silent truncation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pytest_mock import MockerFixture

from src.core import passwords
from src.core.exceptions import RateLimited
from src.core.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    hash_password,
    password_policy_problem,
    verify_password,
)

GOOD = "correct horse battery staple"


# ------------------------------------------------------------------ policy


def test_a_good_passphrase_passes() -> None:
    assert password_policy_problem(GOOD) is None


@pytest.mark.parametrize("length", [MIN_LENGTH, MIN_LENGTH + 1, MAX_LENGTH - 1, MAX_LENGTH])
def test_lengths_within_bounds_pass(length: int) -> None:
    password = ("Zq7!vR2#mK9@xL4$" * 10)[:length]
    assert password_policy_problem(password) is None


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", "at least 8"),
        ("Zq7!vR2", "at least 8"),
        ("Zq7!vR2#" * 16 + "x", "at most 128"),
        ("Zq7!vR2#" * 40, "at most 128"),
    ],
)
def test_lengths_out_of_bounds_are_refused(password: str, reason: str) -> None:
    problem = password_policy_problem(password)
    assert problem is not None
    assert reason in problem


def test_length_is_counted_in_characters_not_bytes() -> None:
    assert password_policy_problem("ü" * MIN_LENGTH) is None
    assert password_policy_problem("ü" * MAX_LENGTH) is None
    assert password_policy_problem("ü" * (MAX_LENGTH + 1)) is not None


@pytest.mark.parametrize("password", [" " * 12, "\t" * 9, " \n \t \r   ", "\u3000" * 10])
def test_only_whitespace_is_refused(password: str) -> None:
    problem = password_policy_problem(password)
    assert problem is not None
    assert "whitespace" in problem


def test_whitespace_inside_a_password_is_fine() -> None:
    assert password_policy_problem("  spaced   out   pass  ") is None


@pytest.mark.parametrize(
    "password", ["password123", "PASSWORD123", "PassWord123", "qwerty123", "Qwerty123", "iloveyou"]
)
def test_common_passwords_are_refused_case_insensitively(password: str) -> None:
    problem = password_policy_problem(password)
    assert problem is not None
    assert "too common" in problem


def test_the_common_list_is_big_and_lowercase() -> None:
    common = passwords._common_passwords()
    assert len(common) > 10_000
    assert "password" in common
    assert all(entry == entry.lower() for entry in common)


# ------------------------------------------------------------------ hashing


async def test_hash_and_verify_round_trip() -> None:
    hashed = await hash_password(GOOD)
    assert hashed.startswith("$argon2id$")
    assert GOOD not in hashed
    assert await verify_password(GOOD, hashed) == (True, None)
    assert await verify_password(GOOD + "!", hashed) == (False, None)
    assert await verify_password(GOOD.upper(), hashed) == (False, None)


async def test_hashes_are_salted() -> None:
    first, second = await hash_password(GOOD), await hash_password(GOOD)
    assert first != second
    assert (await verify_password(GOOD, first))[0]
    assert (await verify_password(GOOD, second))[0]


async def test_long_passwords_are_not_truncated() -> None:
    shared = "x" * 72
    first, second = shared + "A" * 28, shared + "B" * 28
    assert len(first) == len(second) == 100
    hashed = await hash_password(first)
    assert await verify_password(first, hashed) == (True, None)
    assert await verify_password(second, hashed) == (False, None)
    assert await verify_password(shared, hashed) == (False, None)


async def test_multibyte_passwords_are_not_truncated_at_72_bytes() -> None:
    shared = "ü" * 36  # 72 bytes in UTF-8
    hashed = await hash_password(shared + "one")
    assert (await verify_password(shared + "one", hashed))[0]
    assert not (await verify_password(shared + "two", hashed))[0]


async def test_verify_against_no_hash_costs_a_dummy_verification(mocker: MockerFixture) -> None:
    spy = mocker.spy(passwords._hasher, "verify")
    assert await verify_password(GOOD, None) == (False, None)
    spy.assert_called_once_with(GOOD, passwords._DUMMY_HASH)


async def test_the_dummy_hash_does_not_match_its_own_text() -> None:
    # Not even the text the dummy was made from logs in to a missing account.
    result = await verify_password("timing-equaliser-not-a-real-password", None)
    assert result == (False, None)


async def test_a_hash_with_outdated_parameters_is_upgraded_on_verify() -> None:
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8 * 1024),)).hash(GOOD)
    matches, new_hash = await verify_password(GOOD, weak)
    assert matches is True
    assert new_hash is not None
    assert new_hash != weak
    assert await verify_password(GOOD, new_hash) == (True, None)


def restore(cost: tuple[int, int]) -> None:
    """Back to the cost the process had (the suite's, for the apps tests make later)."""
    passwords.configure_hashing(
        concurrency=4, max_wait_seconds=5.0, memory_kib=cost[0], time_cost=cost[1]
    )


async def test_the_configured_cost_makes_new_hashes_and_upgrades_older_ones() -> None:
    previous = passwords._cost
    try:
        passwords.configure_hashing(
            concurrency=4, max_wait_seconds=5.0, memory_kib=19 * 1024, time_cost=2
        )
        hashed = await hash_password(GOOD)
        assert "$m=19456,t=2,p=4$" in hashed
        assert "$m=19456,t=2,p=4$" in passwords._DUMMY_HASH  # unknown emails cost the same
        assert await verify_password(GOOD, hashed) == (True, None)

        passwords.configure_hashing(concurrency=4, max_wait_seconds=5.0)  # the default again
        matches, upgraded = await verify_password(GOOD, hashed)
        assert matches is True
        assert upgraded is not None
        assert "$m=65536,t=3,p=4$" in upgraded
    finally:
        restore(previous)


async def test_a_wrong_password_against_an_outdated_hash_is_not_upgraded() -> None:
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8 * 1024),)).hash(GOOD)
    assert await verify_password("not the password", weak) == (False, None)


# ------------------------------------------------------------------ bounded concurrency


@pytest.fixture
def slow_hasher(mocker: MockerFixture) -> Iterator[dict[str, int]]:
    """Replace Argon2 with a 0.2 s stand-in that records how many run at once."""
    seen = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow(password: str) -> str:
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        time.sleep(0.2)
        with lock:
            seen["now"] -= 1
        return "hashed"

    # The default cost first: configuring the same cost again keeps the patched hasher.
    previous = passwords._cost
    passwords.configure_hashing(concurrency=4, max_wait_seconds=5.0)
    mocker.patch.object(passwords._hasher, "hash", side_effect=slow)
    yield seen
    restore(previous)


async def test_hashing_runs_at_most_the_configured_number_at_once(
    slow_hasher: dict[str, int],
) -> None:
    passwords.configure_hashing(concurrency=2, max_wait_seconds=5)
    results = await asyncio.gather(*(hash_password(GOOD) for _ in range(6)))
    assert results == ["hashed"] * 6
    assert slow_hasher["most"] == 2


async def test_waiting_too_long_for_a_turn_is_rate_limited(slow_hasher: dict[str, int]) -> None:
    passwords.configure_hashing(concurrency=1, max_wait_seconds=0.05)
    results = await asyncio.gather(*(hash_password(GOOD) for _ in range(3)), return_exceptions=True)
    assert results[0] == "hashed"
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(refused) == 2
    assert refused[0].retry_after == 1
    # The turn was given back: the next hash goes through.
    assert await hash_password(GOOD) == "hashed"
