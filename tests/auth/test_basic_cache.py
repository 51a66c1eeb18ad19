"""`MemoryBasicCache`: verified Basic headers for `ttl` seconds, a bounded number of them."""

from __future__ import annotations

import pytest

import auth.basic_cache as basic_cache
from auth.basic_cache import BasicCacheEntry, MemoryBasicCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_when_full_the_least_recently_used_header_goes_first(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(basic_cache, "MAX_MEMORY_ENTRIES", 3)
    cache = MemoryBasicCache(b"k" * 32, ttl=60, clock=Clock())
    for n in range(3):
        await cache.put(f"h{n}", BasicCacheEntry(f"user-{n}", "fp"))
    assert await cache.get("h0") is not None  # h0 used: h1 is now the least recent
    await cache.put("h3", BasicCacheEntry("user-3", "fp"))
    assert await cache.get("h1") is None
    for kept in ("h0", "h2", "h3"):  # one header out, not the whole cache
        assert await cache.get(kept) is not None, kept


async def test_an_expired_header_is_gone_and_a_new_put_starts_its_ttl_again():
    clock = Clock()
    cache = MemoryBasicCache(b"k" * 32, ttl=60, clock=clock)
    await cache.put("h", BasicCacheEntry("user-1", "fp"))
    clock.now += 60
    assert await cache.get("h") is None
    await cache.put("h", BasicCacheEntry("user-1", "fp2"))
    clock.now += 59
    assert await cache.get("h") == BasicCacheEntry("user-1", "fp2")
