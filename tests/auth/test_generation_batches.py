"""Coalesced generation reads (RedisGenerations) against a real Redis: concurrent reads share
one MGET, and a bump that completed before a read started is always seen by that read."""

from __future__ import annotations

import asyncio

import pytest

from auth.identity_cache import IdentityCache, RedisGenerations
from tests.helpers import TEST_REDIS_URL


@pytest.fixture
async def redis_pair():
    """Two clients of the test Redis database (two instances: two connection pools), flushed."""
    if not TEST_REDIS_URL:
        pytest.skip("needs TEST_REDIS_URL (a Redis database, e.g. redis://127.0.0.1:6379/2)")
    import redis.asyncio as redis_asyncio

    first, second = redis_asyncio.from_url(TEST_REDIS_URL), redis_asyncio.from_url(TEST_REDIS_URL)
    await first.flushdb()
    yield first, second
    await first.flushdb()
    await first.aclose()
    await second.aclose()


def _counter(generation: str | None) -> int:
    assert generation is not None
    _epoch, counter, _local = generation.split("/")
    return int(counter)


async def test_concurrent_reads_share_one_round_trip_and_each_gets_its_own_counter(redis_pair):
    client, _ = redis_pair
    for index in range(40):
        for _ in range(index):
            await client.incr(f"gatehouse:gen:u{index}")
    generations = RedisGenerations(client)
    await generations.current("warm")  # creates the epoch
    sent = generations.batches_sent
    read = await asyncio.gather(*(generations.current(f"u{index % 40}") for index in range(200)))
    assert [_counter(g) for g in read] == [index % 40 for index in range(200)]
    assert generations.batches_sent - sent == 1  # 200 reads started in one tick: one MGET
    assert len({g.split("/")[0] for g in read}) == 1  # one epoch


async def test_a_bump_completed_before_a_read_started_is_seen_under_concurrent_batched_reads(redis_pair):
    reader_client, writer_client = redis_pair
    reader = RedisGenerations(reader_client)  # instance A: reads, always a batch in flight
    writer = RedisGenerations(writer_client)  # instance B: revokes
    await reader.current("victim")
    stop = asyncio.Event()

    async def background(user: str) -> None:  # other requests keeping batches in flight
        while not stop.is_set():
            await reader.current(user)

    noise = [asyncio.create_task(background(user)) for user in ("victim", "other", "third") * 8]
    try:
        await asyncio.sleep(0.01)
        batches_before = reader.batches_sent
        for bumps in range(1, 301):
            await writer.bump("victim")  # completed: Redis has applied the INCR
            assert _counter(await reader.current("victim")) == bumps
            if bumps % 3 == 0:
                await asyncio.sleep(0)  # let the background readers start new batches in between
        assert reader.batches_sent - batches_before > 300  # the reads really were batched with others
    finally:
        stop.set()
        await asyncio.gather(*noise)


async def test_a_bump_on_one_instance_invalidates_a_warm_entry_on_the_other_under_load(redis_pair):
    reader_client, writer_client = redis_pair
    cache = IdentityCache(RedisGenerations(reader_client))
    writer = RedisGenerations(writer_client)
    cache.put("key", "victim", None, "row")
    _, generation = await cache.get("key")
    cache.put("key", "victim", generation, "row")
    hits = await asyncio.gather(*(cache.get("key") for _ in range(50)))
    assert all(value == "row" for value, _ in hits)
    await writer.bump("victim")
    after = await asyncio.gather(*(cache.get("key") for _ in range(50)))
    assert all(value is None for value, _ in after)


class _SlowThenBrokenRedis:
    """Answers the first MGET after a pause, then fails every command."""

    def __init__(self, real) -> None:
        self.real = real
        self.calls = 0

    async def mget(self, *keys):
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(0.05)
            return await self.real.mget(*keys)
        raise ConnectionError("down")

    async def set(self, *args, **kwargs):
        raise ConnectionError("down")

    async def get(self, *args, **kwargs):
        raise ConnectionError("down")


async def test_reads_joining_while_a_batch_is_in_flight_go_in_the_next_batch_and_an_outage_is_a_miss(
    redis_pair,
):
    client, _ = redis_pair
    generations = RedisGenerations(client)
    await generations.current("u1")  # the epoch exists
    generations._redis = _SlowThenBrokenRedis(client)
    first = asyncio.create_task(generations.current("u1"))
    await asyncio.sleep(0.01)  # the first batch is in flight now
    joined_late = [asyncio.create_task(generations.current("u1")) for _ in range(5)]
    assert _counter(await first) == 0  # answered by the first MGET
    assert await asyncio.gather(*joined_late) == [None] * 5  # the second MGET failed: unknown
    assert generations._redis.calls == 2  # the five late reads shared one batch


async def test_a_cancelled_read_leaves_the_others_of_its_batch_answered(redis_pair):
    client, _ = redis_pair
    generations = RedisGenerations(client)
    await generations.current("u1")
    reads = [asyncio.create_task(generations.current("u1")) for _ in range(5)]
    await asyncio.sleep(0)
    reads[2].cancel()
    results = await asyncio.gather(*reads, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    assert [_counter(r) for i, r in enumerate(results) if i != 2] == [0, 0, 0, 0]
    assert _counter(await generations.current("u1")) == 0  # the sender is not stuck
