"""A per-process cache of verified credentials, invalidated at once on every instance.

Reading the credential and user rows on every request is what makes revocation
immediate, and it is also most of the cost of an authenticated request. This cache
keeps the verified rows in memory and revalidates them with a *generation*: a value
that every revocation, role change, password change or deactivation moves forward
after writing to the database.

The protocol that keeps it correct:

- a reader takes the generation for the user **before** it reads the database, and
  stores what it read under that generation;
- a writer writes the database **then** bumps the generation;
- a cached entry is used only while the generation still equals the one stored.

If a write lands after a reader's database read, its bump also lands after the
reader took the generation, so the entry is stale on the very next request. A reader
only knows the user before the read once it has seen the credential (credentials
never change owner), so the first request for a credential is never cached.

Where the generation lives decides where the cache may be used:

| deployment | generations | cost per request |
| --- | --- | --- |
| `REDIS_URL` set | a Redis counter per user | a share of one MGET (concurrent reads coalesced) |
| SQLite file | a stamp file next to the database, shared by the processes on the host | one `stat()` |
| SQLite in memory | the process itself | nothing |
| PostgreSQL without Redis | none: the cache is off, every request reads the database | |

A Redis error makes the generation unknown, and an unknown generation is a miss: the
request falls back to the database, so a revoked credential never gets through.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from cachetools import LRUCache, TTLCache

logger = logging.getLogger("gatehouse.cache")

MAX_ENTRIES = 50_000
MAX_AGE = 60.0  # seconds an entry may be served before it is read again anyway


class Generations(Protocol):
    """Where the generations live."""

    async def current(self, user_id: str) -> str | None:
        """The user's generation, or `None` when it cannot be known (no caching then)."""
        ...

    async def bump(self, user_id: str) -> None:
        """Move the user's generation forward (after the database write)."""
        ...


class LocalGenerations:
    """Generations of one process: right only when no other process shares the database."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    async def current(self, user_id: str) -> str | None:
        """The local counter of the user."""
        return str(self._counters.get(user_id, 0))

    async def bump(self, user_id: str) -> None:
        """Count one change for the user."""
        self._counters[user_id] = self._counters.get(user_id, 0) + 1


class FileGenerations(LocalGenerations):
    """A stamp file, replaced on every change: all processes on the host see it by `stat()`."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._stat_path = os.fspath(path)  # `stat()` of a str skips the Path conversion each request
        if not path.exists():
            self._write()

    def _write(self) -> None:
        temporary = self.path.with_name(f"{self.path.name}.{secrets.token_hex(6)}")
        temporary.write_text(secrets.token_hex(8))
        os.replace(temporary, self.path)  # a new inode every time: never mistaken for the old

    async def current(self, user_id: str) -> str | None:
        """The file stamp plus the local counter."""
        try:
            found = os.stat(self._stat_path)
        except OSError:
            return None
        return f"{found.st_ino}:{found.st_mtime_ns}:{found.st_size}/{self._counters.get(user_id, 0)}"

    async def bump(self, user_id: str) -> None:
        """Replace the stamp file (every process sees a new stamp) and count locally."""
        await super().bump(user_id)
        self._write()


class _Batch:
    """Generation reads waiting to be sent to Redis together: one MGET for all of them."""

    __slots__ = ("keys", "waiters")

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}  # user id -> position of its counter in the MGET
        self.waiters: list[tuple[str, asyncio.Future[str | None]]] = []


class RedisGenerations(LocalGenerations):
    """A Redis counter per user, shared by every instance, under a shared epoch.

    The epoch changes when Redis loses its data (a restart: the counters start again
    from zero) and after an outage during which this instance could not publish a bump:
    either way every cached entry on every instance stops matching.

    Reads are coalesced: every request that needs a generation while a read is on its
    way to Redis joins the *next* batch, which goes out as one MGET when the one in
    flight has answered. One round trip (and one pass through the client) then serves
    all the requests that arrived meanwhile, instead of one each.

    Why a revocation is still felt on the very next request, on every instance:

    1. A request joins only a batch that has not been sent yet; the sender takes a batch
       out of reach (`_pending` becomes `None`) before it writes the MGET, and a batch in
       flight is never joined. So the MGET that answers a request is written to Redis
       after that request started.
    2. A revocation writes the database, then INCRs the counter and waits for Redis's
       reply: when `bump` returns, Redis has applied the INCR.
    3. Redis runs commands one at a time, in order. An MGET that reaches it after the INCR
       was applied reads the new counter, whatever instance or connection sends it.

    Hence a request that starts after a bump completed (on this instance or another: the
    request cannot start before the bump it follows) reads a generation that includes
    the bump, and the entry cached under the older generation is not used. Coalescing
    only ever delays a read, never moves it earlier, so the reader-before-database-read
    protocol of the module docstring holds unchanged.
    """

    def __init__(self, redis: Any, prefix: str = "gatehouse:") -> None:
        super().__init__()
        self._redis = redis
        self._epoch_key = prefix + "epoch"
        self._prefix = prefix + "gen:"
        self._epoch_rotation_owed = False
        self._pending: _Batch | None = None  # not sent yet: new reads join it
        self._sender: asyncio.Task[None] | None = None  # sends batches while there are any
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches_sent = 0  # MGETs of counters sent (for tests and profiling)

    async def _rotate_epoch(self) -> None:
        await self._redis.set(self._epoch_key, secrets.token_hex(8))
        self._epoch_rotation_owed = False

    async def current(self, user_id: str) -> str | None:
        """The shared epoch and counter, or `None` when Redis does not answer."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests run many): nothing of the old one
            self._loop, self._pending, self._sender = loop, None, None
        batch = self._pending
        if batch is None:
            batch = self._pending = _Batch()
        sender = self._sender
        if sender is None or sender.done():  # nobody sending: start, and send on the next tick
            self._sender = loop.create_task(self._send_batches())
        batch.keys.setdefault(user_id, len(batch.keys))
        answer: asyncio.Future[str | None] = loop.create_future()
        batch.waiters.append((user_id, answer))
        shared = await answer
        if shared is None:
            return None
        return f"{shared}/{await super().current(user_id)}"

    async def _send_batches(self) -> None:
        """Send the pending batch, then the one that filled up meanwhile, until none is left."""
        while (batch := self._pending) is not None:
            self._pending = None  # from here on this batch is in flight: nobody joins it
            values: list[str] | None = None
            try:
                values = await self._read(list(batch.keys))
            except Exception as exc:  # noqa: BLE001 - unknown generation means "read the database"
                logger.warning("generation unavailable (%s): reading the database", type(exc).__name__)
            finally:  # cancelled too (the loop closing): no waiter is left hanging
                for user_id, answer in batch.waiters:
                    if not answer.done():  # a cancelled request leaves a cancelled future
                        answer.set_result(None if values is None else values[batch.keys[user_id]])

    async def _read(self, user_ids: list[str]) -> list[str]:
        """`epoch/counter` of each user, in one MGET (plus the epoch's creation when missing)."""
        if self._epoch_rotation_owed:
            await self._rotate_epoch()
        epoch, *counters = await self._redis.mget(self._epoch_key, *(self._prefix + u for u in user_ids))
        self.batches_sent += 1
        if epoch is None:  # first use, or Redis lost its data: start a new epoch
            await self._redis.set(self._epoch_key, secrets.token_hex(8), nx=True)
            epoch = await self._redis.get(self._epoch_key)
        shared_epoch = _text(epoch)
        return [f"{shared_epoch}/{_text(counter)}" for counter in counters]

    async def bump(self, user_id: str) -> None:
        """Increment the shared counter; if Redis is down, owe every instance a new epoch."""
        await super().bump(user_id)
        try:
            await self._redis.incr(self._prefix + user_id)
        except Exception as exc:  # noqa: BLE001 - the database already holds the truth
            logger.warning(
                "could not publish a revocation (%s): rotating the epoch later", type(exc).__name__
            )
            self._epoch_rotation_owed = True


def _text(value: Any) -> str:
    if value is None:
        return "0"
    return value.decode() if isinstance(value, bytes) else str(value)


class NoGenerations:
    """No shared place for generations: nothing is cached."""

    async def current(self, user_id: str) -> str | None:
        """Always unknown."""
        return None

    async def bump(self, user_id: str) -> None:
        """Nothing to move."""


class IdentityCache:
    """Verified rows by credential key, each kept with the generation it was read under.

    At most `max_entries` rows, each for `max_age` seconds after it was read (`cachetools`'
    `TTLCache`, the least recently used out first when full), and the owners of as many
    keys (an `LRUCache`), so a credential seen once is cached from its second request on.
    """

    def __init__(
        self,
        generations: Generations,
        max_entries: int = MAX_ENTRIES,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.generations = generations
        self.enabled = not isinstance(generations, NoGenerations)
        self._entries: TTLCache[str, tuple[str, Any]] = TTLCache(max_entries, ttl=max_age, timer=clock)
        self._owners: LRUCache[str, str] = LRUCache(max_entries)  # credential key -> user id

    async def get(self, key: str, owner_hint: str | None = None) -> tuple[Any | None, str | None]:
        """(cached value, None) on a hit; (None, generation to store under) on a miss.

        The generation of a miss is taken now, before the caller reads the database;
        it is `None` when the owner is not known yet or the generation is unknown.
        `owner_hint` names the owner when the credential itself says it (a verified JWT).
        """
        if not self.enabled:
            return None, None
        # Indexing, not `.get()`: cachetools' `get` looks the key up twice (and a
        # TTLCache reads its clock twice), three times the cost on every request.
        try:
            owner: str | None = self._owners[key]
        except KeyError:
            owner = owner_hint
        if owner is None:
            return None, None
        generation = await self.generations.current(owner)
        try:
            stored_generation, value = self._entries[key]
        except KeyError:  # never read, expired or pushed out
            return None, generation
        if generation is not None and generation == stored_generation:
            return value, None
        self._entries.pop(key, None)
        return None, generation

    def put(self, key: str, user_id: str, generation: str | None, value: Any) -> None:
        """Remember `value` (read after `generation` was taken) and who owns `key`."""
        if not self.enabled:
            return
        self._owners[key] = user_id
        if generation is not None:
            self._entries[key] = (generation, value)

    def owner_of(self, key: str) -> str | None:
        """The user `key` was last seen to belong to, or `None` (for a credential whose
        key may move to another user, such as a provider account linked again)."""
        return self._owners.get(key) if self.enabled else None

    def forget(self, key: str) -> None:
        """Drop one entry (for example after a failed liveness check)."""
        self._entries.pop(key, None)

    async def invalidate_user(self, user_id: str) -> None:
        """After a database write that changes what a user's credentials may do."""
        await self.generations.bump(user_id)


def generations_for(settings: Any, redis: Any | None) -> Generations:
    """Where this deployment keeps generations (see the table at the top of this module)."""
    url: str = settings.database_url
    if not settings.identity_cache:
        return NoGenerations()
    if redis is not None:
        return RedisGenerations(redis)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://").split("?")[0]
        if path in ("", ":memory:"):
            return LocalGenerations()
        return FileGenerations(Path(path + ".generation"))
    return NoGenerations()
