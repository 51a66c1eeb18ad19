"""HTTP Basic: login and password on every request, with a short verified-header cache."""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auth.basic_cache import BasicCache, BasicCacheEntry, hash_fingerprint
from auth.errors import CredentialRejected
from auth.identity import PASSWORD_AMR, Identity, Scheme
from auth.identity_cache import IdentityCache
from auth.secrets import keyed_digest
from auth.strategy.password import PasswordStrategy
from auth.strategy.rows import cached_read
from auth.strategy.stores import UserStore
from core.clock import utcnow
from core.errors import EmailNotVerified

if TYPE_CHECKING:
    from auth.ratelimit import LoginLimiter
    from core.client import ClientInfo
    from models import User


@dataclass(frozen=True)
class BasicCredentials:
    """Login and password decoded from a Basic header."""

    login: str
    password: str

    def __repr__(self) -> str:
        return f"BasicCredentials({self.login!r}, '***')"


def decode_basic(value: str) -> BasicCredentials:
    """Decode `base64(login:password)` as UTF-8; the password may contain colons."""
    try:
        raw = base64.b64decode(value, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise CredentialRejected("Malformed Basic credentials.", "Basic") from None
    login, colon, password = text.partition(":")
    if not colon or not login or not password:
        raise CredentialRejected("Malformed Basic credentials.", "Basic")
    return BasicCredentials(login, password)


UNVERIFIED = "Verify your email address first (REQUIRE_VERIFIED_EMAIL is on); then sign in."


class BasicStrategy:
    """Verifies a Basic header value into an active user (a `Strategy`, carried by `Basic`)."""

    scheme = Scheme.BASIC
    rejection = "Invalid login or password."

    def __init__(
        self,
        passwords: PasswordStrategy,
        cache: BasicCache,
        users: UserStore,
        limiter: LoginLimiter | None = None,
        identity_cache: IdentityCache | None = None,
        identity_key: bytes | None = None,
        require_verified_email: bool = False,
    ) -> None:
        self.passwords = passwords
        # REQUIRE_VERIFIED_EMAIL: a Basic request is a sign-in, so it waits for the address.
        self.require_verified_email = require_verified_email
        self.cache = cache
        self.users = users
        self.limiter = limiter
        self.identity_cache = identity_cache
        # Keys the identity-cache slots of Basic headers (an HMAC, never the password).
        self._identity_key = identity_key or secrets.token_bytes(32)
        # Checks running now, by keyed digest of the header (never the header itself).
        self._in_flight: dict[str, asyncio.Future[User | None]] = {}
        self._slot_key = secrets.token_bytes(32)

    async def read_token(self, token: str, presented_as: str, client: ClientInfo) -> Identity | None:
        """The identity of a Basic header value, through the identity cache when there is one."""
        if self.identity_cache is None:
            user = await self.authenticate(token, client.ip)
        else:
            user = await cached_read(
                self.identity_cache,
                "b:" + keyed_digest(self._identity_key, token),
                lambda: self.authenticate(token, client.ip),
                lambda u: bool(u.is_active),
                lambda u: str(u.id),
            )
        if user is None:
            return None
        if self.require_verified_email and user.email_verified_at is None:
            # Only after the password was right: nobody else learns the account exists.
            raise EmailNotVerified(UNVERIFIED)
        # Basic proves the password on every request: its sign-in is now, by password.
        return Identity(
            user=user,
            roles=frozenset(user.roles),
            scheme=Scheme.BASIC,
            presented_as=presented_as,
            auth_time=utcnow(),
            amr=PASSWORD_AMR,
        )

    async def destroy_token(self, identity: Identity) -> None:
        """Forget the user's verified headers: the next request checks the password again."""
        if identity.user_id is not None:
            await self.cache.forget_user(identity.user_id)

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
            user = await self.users.by_id(cached.user_id)
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
