"""The rate limiter over the `limits` moving window: hit and reset, Retry-After, and
failing closed when the storage is gone."""

from __future__ import annotations

import uuid

import limits.storage
import pytest
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.errors import StorageError
from pytest_mock import MockerFixture
from redis.asyncio import Redis

from src.core.exceptions import RateLimited, ServiceUnavailable
from src.core.ratelimit import Limit, RateLimiter, build_storage
from src.core.ratelimit_memory import InProcessStorage
from tests.support.clock import Clock

THREE = Limit.parse("unit-test", "3/minute")


@pytest.fixture(params=["in-process", "limits-memory", "asyncio"])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    """The storage the app uses without Redis, `limits`' own synchronous one (the same
    rules), and the asyncio interface the Redis storage shares."""
    if request.param == "in-process":
        return RateLimiter(InProcessStorage())
    if request.param == "limits-memory":
        return RateLimiter(limits.storage.MemoryStorage())
    return RateLimiter(MemoryStorage())


def storage_down() -> StorageError:
    return StorageError(ConnectionError("Connection refused"))


# ------------------------------------------------------------------ limits


def test_limit_parse() -> None:
    limit = Limit.parse("login-account", "5/minute")
    assert limit.name == "login-account"
    assert limit.item.amount == 5
    assert limit.item.get_expiry() == 60


def test_limit_parse_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match=r"."):
        Limit.parse("x", "lots")


def test_build_storage_is_memory_without_redis() -> None:
    assert isinstance(build_storage(None), InProcessStorage)
    assert isinstance(build_storage(""), InProcessStorage)


@pytest.mark.redis
async def test_counts_in_redis_are_kept_under_the_key_prefix(redis_url: str) -> None:
    prefix = f"stockroom-unit:{uuid.uuid4().hex}"
    limiter = RateLimiter(build_storage(redis_url, prefix))
    await limiter.hit(THREE, "k")
    client = Redis.from_url(redis_url)
    try:
        assert await client.keys(f"{prefix}:*")
    finally:
        await client.aclose()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1/0"])
def test_build_storage_uses_redis_when_configured(url: str) -> None:
    storage = build_storage(url)
    assert isinstance(storage, RedisStorage)
    assert storage.wrap_exceptions is True


# ------------------------------------------------------------------ hit


async def test_hit_allows_up_to_the_limit_then_refuses(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(THREE, "k")
    with pytest.raises(RateLimited) as caught:
        await limiter.hit(THREE, "k")
    assert caught.value.status == 429
    assert caught.value.slug == "rate-limited"
    assert 1 <= caught.value.retry_after <= 60


async def test_a_refused_hit_is_not_counted(mocker: MockerFixture, limiter: RateLimiter) -> None:
    clock = Clock(mocker)
    for _ in range(3):
        await limiter.hit(THREE, "k")
        clock.advance(10)
    for _ in range(5):
        with pytest.raises(RateLimited):
            await limiter.hit(THREE, "k")
    # The first hit leaves the window 60 s after it was made; then exactly one more fits.
    clock.advance(31)
    await limiter.hit(THREE, "k")
    with pytest.raises(RateLimited):
        await limiter.hit(THREE, "k")


async def test_keys_and_limits_are_counted_apart(limiter: RateLimiter) -> None:
    other = Limit.parse("other-limit", "3/minute")
    for _ in range(3):
        await limiter.hit(THREE, "k")
    await limiter.hit(THREE, "another-key")
    await limiter.hit(other, "k")


async def test_the_window_moves(mocker: MockerFixture, limiter: RateLimiter) -> None:
    clock = Clock(mocker)
    for _ in range(3):
        await limiter.hit(THREE, "k")
    clock.advance(59)
    with pytest.raises(RateLimited) as caught:
        await limiter.hit(THREE, "k")
    assert caught.value.retry_after in (1, 2)
    clock.advance(2)
    await limiter.hit(THREE, "k")


async def test_retry_after_counts_down_to_when_the_oldest_leaves(
    mocker: MockerFixture, limiter: RateLimiter
) -> None:
    clock = Clock(mocker)
    await limiter.hit(THREE, "k")
    clock.advance(20)
    await limiter.hit(THREE, "k")
    await limiter.hit(THREE, "k")
    with pytest.raises(RateLimited) as caught:
        await limiter.hit(THREE, "k")
    assert 39 <= caught.value.retry_after <= 41


# ------------------------------------------------------------------ reset


async def test_reset_forgets_the_count(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(THREE, "k")
    await limiter.reset(THREE, "k")
    for _ in range(3):
        await limiter.hit(THREE, "k")
    with pytest.raises(RateLimited):
        await limiter.hit(THREE, "k")


async def test_reset_touches_only_its_key(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(THREE, "a")
    await limiter.reset(THREE, "b")
    with pytest.raises(RateLimited):
        await limiter.hit(THREE, "a")


def test_retry_after_is_at_least_one_second() -> None:
    assert RateLimited(retry_after=0).retry_after == 1
    assert RateLimited(retry_after=-5).retry_after == 1
    assert RateLimited(retry_after=7).retry_after == 7


# ------------------------------------------------------------------ storage down: fail closed


@pytest.mark.parametrize(
    ("method", "storage_call"),
    [("hit", "acquire_entry"), ("reset", "clear")],
)
async def test_a_storage_failure_is_service_unavailable(
    mocker: MockerFixture, limiter: RateLimiter, method: str, storage_call: str
) -> None:
    mocker.patch.object(limiter.storage, storage_call, side_effect=storage_down())
    with pytest.raises(ServiceUnavailable) as caught:
        await getattr(limiter, method)(THREE, "k")
    assert caught.value.status == 503
    assert caught.value.slug == "service-unavailable"


async def test_storage_failure_while_refusing_still_refuses(mocker: MockerFixture) -> None:
    storage = MemoryStorage()
    limiter = RateLimiter(storage)
    for _ in range(3):
        await limiter.hit(THREE, "k")
    # The refusal stands even when the stats for Retry-After cannot be read.
    mocker.patch.object(storage, "get_moving_window", side_effect=storage_down())
    with pytest.raises(RateLimited) as caught:
        await limiter.hit(THREE, "k")
    assert caught.value.retry_after == 60


async def test_other_storage_errors_are_not_swallowed(
    mocker: MockerFixture, limiter: RateLimiter
) -> None:
    mocker.patch.object(limiter.storage, "acquire_entry", side_effect=RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        await limiter.hit(THREE, "k")
