"""The composition of authentication: which objects exist, built once at start-up.

`AuthBackend.build` makes the caches, the limiter, the stores (from `services/`), the
strategies, joins each request strategy to its transport (`AuthMethod`) and hands the
methods to the `Authenticator`. Nothing below receives this object: each service
function takes the few collaborators it uses, and the resolvers pick them from here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from auth.authenticate import Authenticator
from auth.basic_cache import BasicCache, MemoryBasicCache, RedisBasicCache
from auth.federation.providers import Federation
from auth.identity import EXTERNAL_KIND, DerivedIdentities, Scheme
from auth.identity_cache import IdentityCache, generations_for
from auth.keyring import KeyRing, build_key_ring
from auth.methods import AuthMethod
from auth.passwords import BcryptHasher, PasswordHasher
from auth.ratelimit import LoginLimiter
from auth.secrets import derive_key
from auth.strategy.api_token import ApiTokenStrategy
from auth.strategy.base import Strategy
from auth.strategy.basic import BasicStrategy
from auth.strategy.bearer import BearerStrategy
from auth.strategy.jwt import JWTStrategy
from auth.strategy.password import PasswordStrategy
from auth.strategy.refresh import RefreshStrategy
from auth.strategy.rows import LiveCredentials
from auth.strategy.session import SessionStrategy
from auth.strategy.trusted_issuer import TrustedIssuerStrategy
from auth.transport.base import CookieTransport, HeaderTransport
from core.redis_client import connect_redis
from core.settings import Settings
from services.account_mail import AccountMail
from services.credential_rows import CredentialRows
from services.external_identity_rows import ExternalLinkRows
from services.mail import Outbox, build_sender
from services.signing_keys import SigningKeyRows
from services.user_rows import UserRows


@dataclass(frozen=True)
class AuthBackend:
    """The authentication objects of one deployment."""

    settings: Settings
    authenticator: Authenticator
    hasher: PasswordHasher
    limiter: LoginLimiter
    identity_cache: IdentityCache
    basic_cache: BasicCache
    passwords: PasswordStrategy
    sessions: SessionStrategy
    bearer: BearerStrategy
    api_tokens: ApiTokenStrategy
    basic: BasicStrategy
    keyring: KeyRing
    # Other OpenID providers (OIDC_PROVIDERS) and issuers (TRUSTED_ISSUERS), section 10.
    federation: Federation
    trusted_issuers: TrustedIssuerStrategy
    # Mail off the request path (services/mail.py) and the flows that use it (section 11).
    outbox: Outbox
    account_mail: AccountMail

    @classmethod
    def build(
        cls,
        settings: Settings,
        redis: Any | None = None,
        hasher: PasswordHasher | None = None,
        *,
        access_scopes: Collection[str] = (),
    ) -> AuthBackend:
        """Wire everything; `redis` shares the Basic cache, the rate limits and the
        identity-cache generations between instances (else `settings.redis_url`).
        `access_scopes`: every scope the served schema names (`GatehouseSchema.known_scopes`),
        the access tokens' `scope` claim; the composition passes them in, auth knows no schema."""
        if redis is None and settings.redis_url:
            redis = connect_redis(settings)
        hasher = hasher or BcryptHasher(settings.bcrypt_rounds, settings.bcrypt_concurrency)
        secret = settings.secret_key.reveal()
        cache_key = derive_key(secret, "basic-cache/v1")
        basic_cache: BasicCache
        if redis is not None:
            basic_cache = RedisBasicCache(redis, cache_key, settings.basic_cache_ttl)
        else:
            basic_cache = MemoryBasicCache(cache_key, settings.basic_cache_ttl)
        limiter = LoginLimiter(settings, redis=redis)
        identity_cache = IdentityCache(generations_for(settings, redis))
        users = UserRows()
        live = LiveCredentials(
            CredentialRows(), settings, identity_cache, DerivedIdentities(enabled=identity_cache.enabled)
        )
        passwords = PasswordStrategy(hasher, users)
        sessions = SessionStrategy(live)
        keyring = build_key_ring(settings, SigningKeyRows())
        bearer = BearerStrategy(
            JWTStrategy(settings, keyring, scopes=access_scopes), RefreshStrategy(live, identity_cache), live
        )
        api_tokens = ApiTokenStrategy(live)
        basic = BasicStrategy(
            passwords,
            basic_cache,
            users,
            limiter,
            identity_cache,
            derive_key(secret, "identity-cache/basic/v1"),
            require_verified_email=settings.require_verified_email,
        )
        outbox = Outbox(build_sender(settings))
        federation = Federation(settings)
        trusted_issuers = TrustedIssuerStrategy(federation, ExternalLinkRows(), identity_cache, settings)
        methods = [
            AuthMethod(HeaderTransport("Basic", https_only=settings.production), basic),
            AuthMethod(HeaderTransport("Token"), api_tokens),
            AuthMethod(HeaderTransport("Bearer"), bearer),
            AuthMethod(CookieTransport(settings), sessions),
        ]
        return cls(
            settings=settings,
            authenticator=Authenticator(methods, settings.auth_schemes, trusted_issuers),
            hasher=hasher,
            limiter=limiter,
            identity_cache=identity_cache,
            basic_cache=basic_cache,
            passwords=passwords,
            sessions=sessions,
            bearer=bearer,
            api_tokens=api_tokens,
            basic=basic,
            keyring=keyring,
            federation=federation,
            trusted_issuers=trusted_issuers,
            outbox=outbox,
            account_mail=AccountMail(outbox, limiter, settings),
        )

    async def start(self) -> None:
        """What needs the database up: the signing keys (the first one made on a new
        database), and the mail outbox's workers (its jobs read and write rows)."""
        await self.keyring.start()
        await self.outbox.start()

    async def stop(self) -> None:
        """End background work (the mail outbox, after a short grace; the key ring's reloads)."""
        await self.outbox.stop()
        await self.keyring.stop()
        await self.federation.close()

    def strategy_for(self, scheme: Scheme, kind: str | None = None) -> Strategy:
        """The strategy that reads (and ends) credentials of `scheme`; `kind` is the
        credential's kind, which tells a trusted issuer's token from Gatehouse's own."""
        if kind == EXTERNAL_KIND:
            return self.trusted_issuers
        strategies: dict[Scheme, Strategy] = {
            Scheme.SESSION: self.sessions,
            Scheme.JWT: self.bearer,
            Scheme.TOKEN: self.api_tokens,
            Scheme.BASIC: self.basic,
        }
        return strategies[scheme]
