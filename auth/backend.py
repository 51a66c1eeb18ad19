"""One object that holds every strategy, built once at start-up from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auth.basic_cache import BasicCache, MemoryBasicCache, RedisBasicCache
from auth.identity import DerivedIdentities
from auth.identity_cache import IdentityCache, generations_for
from auth.passwords import BcryptHasher, PasswordHasher
from auth.ratelimit import LoginLimiter
from auth.secrets import derive_key
from auth.strategy.api_token import ApiTokenStrategy
from auth.strategy.basic import BasicStrategy
from auth.strategy.jwt import JWTStrategy
from auth.strategy.password import PasswordStrategy
from auth.strategy.refresh import RefreshStrategy
from auth.strategy.session import SessionStrategy
from core.redis_client import connect_redis
from core.settings import Settings


@dataclass
class AuthBackend:
    """The strategies of one deployment, sharing one settings object."""

    settings: Settings
    hasher: PasswordHasher
    passwords: PasswordStrategy
    sessions: SessionStrategy
    jwt: JWTStrategy
    refresh: RefreshStrategy
    api_tokens: ApiTokenStrategy
    basic: BasicStrategy
    basic_cache: BasicCache
    limiter: LoginLimiter
    identity_cache: IdentityCache
    # Keys the identity-cache slots of Basic headers (an HMAC, never the password).
    basic_key: bytes
    identities: DerivedIdentities

    @classmethod
    def build(
        cls, settings: Settings, redis: Any | None = None, hasher: PasswordHasher | None = None
    ) -> AuthBackend:
        """Wire the strategies; `redis` shares the Basic cache between instances.

        The rate limiter shares its counters through the same Redis (or `settings.redis_url`).
        """
        if redis is None and settings.redis_url:
            redis = connect_redis(settings)
        hasher = hasher or BcryptHasher(settings.bcrypt_rounds, settings.bcrypt_concurrency)
        cache_key = derive_key(settings.secret_key.reveal(), "basic-cache/v1")
        basic_cache: BasicCache
        if redis is not None:
            basic_cache = RedisBasicCache(redis, cache_key, settings.basic_cache_ttl)
        else:
            basic_cache = MemoryBasicCache(cache_key, settings.basic_cache_ttl)
        passwords = PasswordStrategy(hasher)
        limiter = LoginLimiter(settings, redis=redis)
        identity_cache = IdentityCache(generations_for(settings, redis))
        return cls(
            settings=settings,
            hasher=hasher,
            passwords=passwords,
            sessions=SessionStrategy(settings),
            jwt=JWTStrategy(settings),
            refresh=RefreshStrategy(settings, identity_cache),
            api_tokens=ApiTokenStrategy(settings),
            basic=BasicStrategy(passwords, basic_cache, limiter),
            basic_cache=basic_cache,
            limiter=limiter,
            identity_cache=identity_cache,
            basic_key=derive_key(settings.secret_key.reveal(), "identity-cache/basic/v1"),
            identities=DerivedIdentities(enabled=identity_cache.enabled),
        )

    async def invalidate_user(self, user_id: str) -> None:
        """After a write that changes what a user's credentials may do: every instance re-reads."""
        await self.identity_cache.invalidate_user(user_id)
