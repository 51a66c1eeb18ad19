"""Spreading guesses over several Gatehouse instances: with `REDIS_URL` the counters are
shared, so every instance sees the same limits. Under `TEST_REDIS_URL` these tests use
the real Redis server."""

from __future__ import annotations

import pytest
from limits.aio.storage import RedisStorage

from auth.ratelimit import LoginLimiter, SafeMemoryStorage, limits_storage_uri
from core.errors import RateLimited
from tests.helpers import TEST_REDIS_URL, make_settings

needs_redis = pytest.mark.skipif(TEST_REDIS_URL is None, reason="needs TEST_REDIS_URL")


def test_storage_is_memory_without_redis():
    limiter = LoginLimiter(make_settings(redis_url=None))
    assert isinstance(limiter.storage, SafeMemoryStorage)


def test_storage_uri_follows_the_redis_url_scheme():
    assert limits_storage_uri("redis://h:6379/0") == "async+redis://h:6379/0"
    assert limits_storage_uri("rediss://h:6379/0") == "async+rediss://h:6379/0"
    assert limits_storage_uri("unix:///run/redis.sock") == "async+redis+unix:///run/redis.sock"


@needs_redis
async def test_two_instances_share_one_account_counter(clean_backends):
    settings = make_settings(login_limit_per_account="4/minute", login_limit_per_ip="100/minute")
    first, second = LoginLimiter(settings), LoginLimiter(settings)
    assert isinstance(first.storage, RedisStorage)

    for n in range(2):
        await first.login_attempt("alice", f"203.0.113.{n}")
        await second.login_attempt("ALICE", f"198.51.100.{n}")

    with pytest.raises(RateLimited) as refused:
        await first.login_attempt("alice", "192.0.2.1")
    assert 1 <= refused.value.retry_after <= 60
    with pytest.raises(RateLimited):
        await second.login_attempt("alice", "192.0.2.2")

    # A success on one instance clears the account for both.
    await second.login_succeeded("alice")
    await first.login_attempt("alice", "192.0.2.3")


@needs_redis
async def test_redis_holds_digests_not_logins_or_ips(clean_backends):
    import redis.asyncio as redis_asyncio

    limiter = LoginLimiter(make_settings())
    await limiter.login_attempt("alice@example.com", "203.0.113.99")

    client = redis_asyncio.from_url(TEST_REDIS_URL)
    try:
        keys = [k.decode() async for k in client.scan_iter("gatehouse:limits*")]
    finally:
        await client.aclose()
    assert keys, "the attempt was not recorded in Redis"
    text = " ".join(keys)
    assert "alice" not in text and "203.0.113.99" not in text
