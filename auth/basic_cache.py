"""A short-lived cache of verified Basic headers, so Basic does not cost a bcrypt per request.

Keys are HMACs of the header value, never the password. An entry remembers the user
and a fingerprint of the password hash it was verified against; since the user row is
read on every request anyway, a changed password invalidates entries on every
instance, with or without Redis. `forget_user` empties a user's entries (logout
everywhere, password change); with Redis the entries are shared by all instances.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TTLCache

from auth.secrets import keyed_digest

MAX_MEMORY_ENTRIES = 10_000


def hash_fingerprint(password_hash: str) -> str:
    """A short, non-reversible stand-in for a password hash."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BasicCacheEntry:
    """Who a verified header belongs to, and against which password hash."""

    user_id: str
    fingerprint: str


class BasicCache(Protocol):
    """Where verified Basic headers are remembered."""

    async def get(self, header_value: str) -> BasicCacheEntry | None: ...

    async def put(self, header_value: str, entry: BasicCacheEntry) -> None: ...

    async def forget_user(self, user_id: str) -> None: ...


class MemoryBasicCache:
    """Per-process cache: each entry for `ttl` seconds, at most `MAX_MEMORY_ENTRIES`
    (`cachetools`' `TTLCache`: the least recently used goes first when full)."""

    def __init__(self, key: bytes, ttl: float, clock: Any = time.monotonic) -> None:
        self._key = key
        self._entries: TTLCache[str, BasicCacheEntry] = TTLCache(MAX_MEMORY_ENTRIES, ttl=ttl, timer=clock)

    async def get(self, header_value: str) -> BasicCacheEntry | None:
        """The entry for this header, if verified less than `ttl` seconds ago."""
        try:  # indexing: `TTLCache.get` looks the key up (and reads the clock) twice
            return self._entries[keyed_digest(self._key, header_value)]
        except KeyError:
            return None

    async def put(self, header_value: str, entry: BasicCacheEntry) -> None:
        """Remember a verified header."""
        self._entries[keyed_digest(self._key, header_value)] = entry

    async def forget_user(self, user_id: str) -> None:
        """Drop every entry of `user_id`."""
        for slot in [s for s, e in self._entries.items() if e.user_id == user_id]:
            self._entries.pop(slot, None)


class RedisBasicCache:
    """Cache shared by every instance through Redis."""

    def __init__(self, redis: Any, key: bytes, ttl: int, prefix: str = "gatehouse:basic:") -> None:
        self._redis = redis
        self._key = key
        self._ttl = ttl
        self._prefix = prefix

    async def get(self, header_value: str) -> BasicCacheEntry | None:
        """The shared entry for this header, if any."""
        raw = await self._redis.get(self._prefix + keyed_digest(self._key, header_value))
        if not raw:
            return None
        user_id, _, fingerprint = (raw.decode() if isinstance(raw, bytes) else raw).partition(" ")
        return BasicCacheEntry(user_id, fingerprint)

    async def put(self, header_value: str, entry: BasicCacheEntry) -> None:
        """Share a verified header with every instance for `ttl` seconds."""
        slot = self._prefix + keyed_digest(self._key, header_value)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(slot, f"{entry.user_id} {entry.fingerprint}", ex=self._ttl)
            pipe.sadd(self._prefix + "user:" + entry.user_id, slot)
            pipe.expire(self._prefix + "user:" + entry.user_id, self._ttl)
            await pipe.execute()

    async def forget_user(self, user_id: str) -> None:
        """Drop every shared entry of `user_id`."""
        index = self._prefix + "user:" + user_id
        slots = await self._redis.smembers(index)
        if slots:
            await self._redis.delete(*slots)
        await self._redis.delete(index)
