"""A provider's signing keys (its JWKS), cached and refreshed when a token names a key it lacks.

A provider rotates by publishing a new key before signing with it, so a `kid` missing
from the cached set means the set is stale, or that the token is forged. The set is read
again for such a `kid` at most once per `REFRESH_GAP` seconds (concurrent callers share
that read), so tokens naming random `kid`s never become a stream of requests to the
provider; otherwise the set is kept `MAX_AGE` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

logger = logging.getLogger("gatehouse.federation")

MAX_AGE = 3600.0  # seconds a fetched key set is used before it is read again
REFRESH_GAP = 30.0  # seconds between two reads for unknown kids
# Key types that verify signatures; anything else in a JWKS (an encryption key, a `kty`
# joserfc does not know) is left out.
SIGNING_USE = "sig"


class KeysUnavailable(Exception):
    """The key set could not be read (network, status, or not a JWKS)."""


def signing_key_set(document: Any) -> KeySet:
    """The signature keys of a JWKS document (`use` absent or `sig`); `KeysUnavailable`
    when it holds none."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeysUnavailable("not a JWKS")
    keys = [k for k in document["keys"] if isinstance(k, dict) and k.get("use", SIGNING_USE) == SIGNING_USE]
    try:
        return KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise KeysUnavailable(f"no usable signing key ({type(exc).__name__})") from None


class RemoteKeySet:
    """The JWKS that `fetch()` reads, cached for `max_age` seconds and read again for an
    unknown `kid` at most every `refresh_gap` seconds."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Any]],
        *,
        max_age: float = MAX_AGE,
        refresh_gap: float = REFRESH_GAP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.max_age = max_age
        self.refresh_gap = refresh_gap
        self._clock = clock
        self._keys: KeySet | None = None
        self._read_at = float("-inf")
        self._refreshed_at = float("-inf")
        self._lock = asyncio.Lock()
        self.reads = 0  # how many times the set was fetched (for tests and logs)

    async def current(self) -> KeySet:
        """The cached set, read first when there is none or it is older than `max_age`.
        A failed read keeps serving the old set when there is one."""
        if self._keys is not None and self._clock() - self._read_at < self.max_age:
            return self._keys
        async with self._lock:
            if self._keys is not None and self._clock() - self._read_at < self.max_age:
                return self._keys
            try:
                await self._read()
            except KeysUnavailable:
                if self._keys is None:
                    raise
                logger.warning("reading a provider's keys failed; keeping the ones read before")
        assert self._keys is not None
        return self._keys

    def knows(self, kid: str | None) -> bool:
        """Whether the cached set holds `kid`."""
        return self._keys is not None and any(key.kid == kid for key in self._keys)

    async def refreshed_for(self, kid: str | None) -> KeySet | None:
        """The set read again because a token names `kid`, which it lacks; `None` when
        it was read for an unknown kid less than `refresh_gap` seconds ago and still
        lacks it (the token is refused without asking the provider)."""
        async with self._lock:  # a read under way: wait for it and use its result
            if self.knows(kid):
                return self._keys
            if self._clock() - self._refreshed_at < self.refresh_gap:
                return None
            self._refreshed_at = self._clock()
            await self._read()
        return self._keys if self.knows(kid) else None

    async def _read(self) -> None:
        document = await self._fetch()
        self._keys = signing_key_set(document)
        self._read_at = self._clock()
        self.reads += 1
