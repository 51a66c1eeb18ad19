"""The identity cache: hits only while the generation read before the database read holds."""

from __future__ import annotations

import pytest

from auth.identity_cache import (
    FileGenerations,
    IdentityCache,
    LocalGenerations,
    NoGenerations,
    RedisGenerations,
)
from tests.helpers import TEST_REDIS_URL


async def test_first_sight_of_a_credential_is_never_cached():
    cache = IdentityCache(LocalGenerations())
    value, generation = await cache.get("k")
    assert value is None and generation is None
    cache.put("k", "u1", generation, "row")
    value, generation = await cache.get("k")
    assert value is None and generation is not None  # owner known now: the next read is cached
    cache.put("k", "u1", generation, "row")
    assert (await cache.get("k"))[0] == "row"


async def _cached(cache: IdentityCache, key: str = "k", user: str = "u1", value: str = "row") -> None:
    cache.put(key, user, None, value)
    _, generation = await cache.get(key)
    cache.put(key, user, generation, value)
    assert (await cache.get(key))[0] == value


async def test_a_bump_invalidates_only_that_users_entries():
    cache = IdentityCache(LocalGenerations())
    await _cached(cache, "k1", "u1")
    await _cached(cache, "k2", "u2")
    await cache.invalidate_user("u1")
    assert (await cache.get("k1"))[0] is None
    assert (await cache.get("k2"))[0] == "row"


async def test_a_write_after_the_generation_was_taken_is_seen_next_time():
    """Reader takes the generation, a writer revokes and bumps, the reader stores old data."""
    cache = IdentityCache(LocalGenerations())
    cache.put("k", "u1", None, "live")
    _, generation = await cache.get("k")
    await cache.invalidate_user("u1")  # the write landed after the reader's generation
    cache.put("k", "u1", generation, "live (stale)")
    assert (await cache.get("k"))[0] is None


async def test_entries_expire_after_max_age():
    now = [1000.0]
    cache = IdentityCache(LocalGenerations(), max_age=60, clock=lambda: now[0])
    await _cached(cache)
    now[0] += 59
    assert (await cache.get("k"))[0] == "row"
    now[0] += 2  # 61 seconds after it was read
    value, generation = await cache.get("k")
    assert value is None and generation is not None  # the owner is still known: read again


async def test_at_most_max_entries_the_least_recently_used_out_first():
    cache = IdentityCache(LocalGenerations(), max_entries=2)
    await _cached(cache, "k1", "u1")
    await _cached(cache, "k2", "u2")
    assert (await cache.get("k1"))[0] == "row"  # k1 used last: k2 goes first
    await _cached(cache, "k3", "u3")
    assert (await cache.get("k1"))[0] == "row"
    assert (await cache.get("k2"))[0] is None
    assert (await cache.get("k3"))[0] == "row"


async def test_no_generations_means_no_cache():
    cache = IdentityCache(NoGenerations())
    cache.put("k", "u1", "1", "row")
    assert await cache.get("k") == (None, None)


async def test_file_generations_are_shared_between_processes_on_one_host(tmp_path):
    path = tmp_path / "gatehouse.db.generation"
    mine, other_process = FileGenerations(path), FileGenerations(path)
    cache = IdentityCache(mine)
    await _cached(cache)
    await other_process.bump("u1")  # another worker revoked something
    assert (await cache.get("k"))[0] is None


async def test_file_generations_unknown_when_the_stamp_file_is_gone(tmp_path):
    path = tmp_path / "gen"
    generations = FileGenerations(path)
    path.unlink()
    assert await generations.current("u1") is None


@pytest.fixture
async def redis_client():
    if not TEST_REDIS_URL:
        pytest.skip("needs TEST_REDIS_URL")
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(TEST_REDIS_URL)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_redis_generations_are_shared_between_instances(redis_client):
    instance_a = IdentityCache(RedisGenerations(redis_client))
    instance_b = RedisGenerations(redis_client)
    await instance_a.generations.current("u1")  # creates the epoch
    await _cached(instance_a)
    await instance_b.bump("u1")
    assert (await instance_a.get("k"))[0] is None


async def test_redis_losing_its_data_changes_the_epoch(redis_client):
    cache = IdentityCache(RedisGenerations(redis_client))
    await cache.generations.current("u1")
    await _cached(cache)
    await redis_client.flushdb()  # a restart without persistence
    assert (await cache.get("k"))[0] is None


class _BrokenRedis:
    async def mget(self, *keys):
        raise ConnectionError("down")

    async def incr(self, key):
        raise ConnectionError("down")

    async def set(self, *args, **kwargs):
        raise ConnectionError("down")


async def test_redis_outage_is_a_miss_and_a_failed_bump_owes_a_new_epoch(redis_client):
    generations = RedisGenerations(redis_client)
    cache = IdentityCache(generations)
    await generations.current("u1")
    await _cached(cache)
    generations._redis = _BrokenRedis()
    assert (await cache.get("k"))[0] is None  # unknown generation: read the database
    await generations.bump("u1")  # could not publish
    generations._redis = redis_client
    epoch_before = await redis_client.get("gatehouse:epoch")
    await generations.current("u1")
    assert await redis_client.get("gatehouse:epoch") != epoch_before
