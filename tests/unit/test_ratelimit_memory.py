"""The in-process storage keeps only what a window still needs, and forgets idle keys."""

from __future__ import annotations

from limits import parse
from limits.strategies import MovingWindowRateLimiter
from pytest_mock import MockerFixture

from src.core.ratelimit_memory import InProcessStorage
from tests.support.clock import Clock

TEN_A_SECOND = parse("10/second")


def test_entries_older_than_the_window_are_dropped(mocker: MockerFixture) -> None:
    clock = Clock(mocker)
    storage = InProcessStorage()
    limiter = MovingWindowRateLimiter(storage)
    for _ in range(50):
        assert limiter.hit(TEN_A_SECOND, "k")
        clock.advance(0.5)
    [(entries, expiry)] = storage.events.values()
    assert expiry == 1
    assert len(entries) <= 3  # what the last second holds (both ends included), not 50
    assert limiter.get_window_stats(TEN_A_SECOND, "k").remaining == 9


def test_the_window_refuses_at_the_limit_and_frees_up_as_it_moves(mocker: MockerFixture) -> None:
    clock = Clock(mocker)
    limiter = MovingWindowRateLimiter(InProcessStorage())
    assert all(limiter.hit(TEN_A_SECOND, "k") for _ in range(10))
    assert not limiter.hit(TEN_A_SECOND, "k")
    stats = limiter.get_window_stats(TEN_A_SECOND, "k")
    assert stats.remaining == 0
    assert stats.reset_time == clock.now + 1
    clock.advance(1.01)
    assert limiter.hit(TEN_A_SECOND, "k")


def test_idle_keys_are_swept(mocker: MockerFixture) -> None:
    clock = Clock(mocker)
    storage = InProcessStorage()
    limiter = MovingWindowRateLimiter(storage)
    for address in range(100):
        limiter.hit(TEN_A_SECOND, f"client:{address}")
    storage.incr("remembered", 5)
    clock.advance(11)  # past every window and the sweep interval
    limiter.hit(TEN_A_SECOND, "client:new")
    assert [key for key in storage.events if "client:" in key] == [
        TEN_A_SECOND.key_for("client:new")
    ]
    assert storage.counters == {}
    assert storage.get("remembered") == 0
