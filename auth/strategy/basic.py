"""HTTP Basic: login and password on every request, with a short verified-header cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.basic_cache import BasicCache, BasicCacheEntry, hash_fingerprint
from auth.strategy.password import PasswordStrategy
from auth.transport.header import decode_basic
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

    async def authenticate(self, header_value: str, client_ip: str | None = None) -> User | None:
        """The user behind `header_value` (the base64 part), or `None` when wrong.

        A header that misses the cache is a password attempt: it counts against the
        login limits (`RateLimited` when over) like a `login` mutation does.
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
