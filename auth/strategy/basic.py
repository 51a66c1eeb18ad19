"""HTTP Basic: login and password on every request, with a short verified-header cache."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

from auth.basic_cache import BasicCache, BasicCacheEntry, hash_fingerprint
from auth.secrets import keyed_digest
from auth.strategy.password import PasswordStrategy
from auth.transport.header import BasicCredentials, decode_basic
from models import User

if TYPE_CHECKING:
    from auth.ratelimit import LoginLimiter


class BasicStrategy:
    """Verifies a Basic header value into an active user, or `None`."""

    def __init__(
        self, passwords: PasswordStrategy, cache: BasicCache, limiter: LoginLimiter | None = None
    ) -> None:
        self.passwords = passwords
        self.cache = cache
        self.limiter = limiter
        # Checks running now, by keyed digest of the header (never the header itself).
        self._in_flight: dict[str, asyncio.Future[User | None]] = {}
        self._slot_key = secrets.token_bytes(32)

    async def authenticate(self, header_value: str, client_ip: str | None = None) -> User | None:
        """The user behind `header_value` (the base64 part), or `None` when wrong.

        A header that misses the cache is a password attempt: it counts against the
        login limits (`RateLimited` when over) like a `login` mutation does. Requests that
        bring the same header while it is being checked wait for that one check: a script
        opening many connections at once (or every connection at once when the cache
        entry expires) makes one password attempt, not one per connection.
        """
        credentials = decode_basic(header_value)
        cached = await self.cache.get(header_value)
        if cached is not None:
            user = await User.filter(id=cached.user_id).first()
            if (
                user is not None
                and user.is_active
                and hash_fingerprint(user.password_hash) == cached.fingerprint
            ):
                return user
        slot = keyed_digest(self._slot_key, header_value)
        check = self._in_flight.get(slot)
        if check is None:
            check = asyncio.ensure_future(self._check(header_value, credentials, client_ip))
            self._in_flight[slot] = check
            check.add_done_callback(lambda done: self._settled(slot, done))
        # Shielded: a client that goes away must not cancel the check the others await.
        return await asyncio.shield(check)

    def _settled(self, slot: str, check: asyncio.Future[User | None]) -> None:
        self._in_flight.pop(slot, None)
        if not check.cancelled():
            check.exception()  # retrieved, even when every waiter has gone away

    async def _check(
        self, header_value: str, credentials: BasicCredentials, client_ip: str | None
    ) -> User | None:
        if self.limiter is not None:
            await self.limiter.login_attempt(credentials.login, client_ip)
        user = await self.passwords.authenticate(credentials.login, credentials.password)
        if user is not None:
            if self.limiter is not None:
                await self.limiter.login_succeeded(credentials.login)
            await self.cache.put(
                header_value, BasicCacheEntry(str(user.id), hash_fingerprint(user.password_hash))
            )
        return user
