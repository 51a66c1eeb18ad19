"""Brute-force limits on password attempts, account creation, token refresh and introspection.

Built on the `limits` library with moving windows. The counters live in Redis when
`REDIS_URL` is set (every instance shares them), else in process memory.

- Every password attempt counts before the password is checked: a `login` mutation
  (alias or not), a Basic header that missed the verified-header cache, and the current
  password of `changePassword`. It counts once per client IP and once per account, the
  account being the normalised `login` (username or email, ignoring case).
- The per-account limit is a list of windows that grow (by default 5 a minute, 10 in
  5 minutes, 20 in 15 minutes): repeated failures wait longer, but never more than the
  longest window, so an account is never locked for good.
- A refused attempt is not recorded, so hammering a blocked account does not extend its
  wait; a successful login clears the account's counters.
- Requests that send mail (`mail_attempt`) count per client IP and per address, known
  to an account or not (`MAIL_LIMIT_PER_IP`, `MAIL_LIMIT_PER_ADDRESS`).
- Counter keys are keyed digests, so Redis never holds a username, email or IP in clear.
- The per-IP counters key an address in one spelling (`core.client.rate_limit_key`), and
  an IPv6 address by its network of `IPV6_RATE_LIMIT_PREFIX` bits (64 by default): one
  subscriber holds a whole /64 or more, so counting single IPv6 addresses limits nobody.
  A 6to4 or Teredo address counts as the IPv4 address it carries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from auth.secrets import derive_key, keyed_digest
from auth.strategy.password import login_key
from core.client import rate_limit_key
from core.errors import RateLimited, ServiceUnavailable
from core.settings import Settings

KEY_PREFIX = "gatehouse:limits"


def limits_storage_uri(redis_url: str) -> str:
    """The `limits` async storage URI for a `REDIS_URL` (redis://, rediss:// or unix://)."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url


class SafeMemoryStorage(MemoryStorage):
    """`MemoryStorage` whose `clear` cannot kill its own expiry task.

    A bug in `limits` (5.8.0, the newest release, and its main branch as of December
    2026), `limits/aio/storage/memory.py`: the expiry task lists the keys of `events`,
    then for each key awaits `asyncio.to_thread` and reads `self.events[key]`. `clear`
    (what `MovingWindowRateLimiter.clear`, the library's one way to reset a moving
    window, calls) pops the key meanwhile, and the task dies with `KeyError` ("Task
    exception was never retrieved"); old hits are then kept until a later hit starts a
    new task. No supported API avoids it: the strategies reset a window only through
    `Storage.clear`, and the synchronous `limits.storage.MemoryStorage` (not affected)
    belongs to the synchronous API. Emptying the key's events instead of removing the
    key leaves the removal to the task itself. `tests/auth/test_ratelimit.py` fails once
    the library's own `clear` is safe, so this class can go.
    """

    async def clear(self, key: str) -> None:
        """Forget every hit recorded under `key`."""
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        if key in self.events:
            self.events[key] = []


def build_storage(redis_url: str | None, redis: Any | None = None) -> Storage:
    """Redis storage shared by every instance when `redis_url` is set, else process memory.

    `redis` (a `redis.asyncio.Redis`) lends its connection pool, so the app's lifespan
    closes the limiter's connections together with its own.
    """
    if redis_url:
        options: dict[str, Any] = {}
        if redis is not None:
            options["connection_pool"] = redis.connection_pool
        # redis-py is installed (coredis, the library's default client, is not).
        return RedisStorage(
            limits_storage_uri(redis_url),
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            wrap_exceptions=True,
            **options,
        )
    return SafeMemoryStorage(wrap_exceptions=True)


class LoginLimiter:
    """Counts attempts and raises `RateLimited` (with the seconds to wait) when over a limit."""

    def __init__(self, settings: Settings, storage: Storage | None = None, redis: Any | None = None) -> None:
        self.storage = storage if storage is not None else build_storage(settings.redis_url, redis)
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._key = derive_key(settings.secret_key.reveal(), "ratelimit/v1")
        self.per_account = parse_many(settings.login_limit_per_account)
        self.per_ip = parse_many(settings.login_limit_per_ip)
        self.register_per_ip = parse_many(settings.register_limit_per_ip)
        self.refresh_per_ip = parse_many(settings.refresh_limit_per_ip)
        self.introspect_per_caller = parse_many(settings.introspect_limit)
        self.mail_per_address = parse_many(settings.mail_limit_per_address)
        self.mail_per_ip = parse_many(settings.mail_limit_per_ip)
        self.ipv6_prefix = settings.ipv6_rate_limit_prefix
        # Told the limit of each refusal (web/metrics.py under METRICS=on); never the key.
        self.on_refused: Callable[[str], None] | None = None

    def _account(self, login: str) -> str:
        column, value = login_key(login)
        return keyed_digest(self._key, f"{column}:{value}")[:32]

    def _ip(self, ip: str | None) -> str:
        # One spelling per address, and one key per IPv6 network of `ipv6_prefix` bits.
        return keyed_digest(self._key, rate_limit_key(ip, self.ipv6_prefix))[:32]

    async def _hit(self, items: Sequence[RateLimitItem], namespace: str, key: str) -> None:
        """Record one attempt in every window, stopping at the first that is full."""
        try:
            for item in items:
                if not await self._limiter.hit(item, namespace, key):
                    if self.on_refused is not None:
                        self.on_refused(namespace)
                    stats = await self._limiter.get_window_stats(item, namespace, key)
                    raise RateLimited(math.ceil(stats.reset_time - time.time()))
        except StorageError:
            raise ServiceUnavailable("Rate limiting is unavailable; try again shortly.") from None

    async def login_attempt(self, login: str, ip: str | None) -> None:
        """Count a password attempt for `login` from `ip`; `RateLimited` when either is over.

        The IP is counted first: an attempt refused for its IP never reaches the
        account's counters, so a blocked attacker cannot keep a victim locked out.
        """
        await self._hit(self.per_ip, "login-ip", self._ip(ip))
        await self._hit(self.per_account, "login-account", self._account(login))

    async def login_succeeded(self, login: str) -> None:
        """Forget the account's failures after a correct password."""
        account = self._account(login)
        try:
            for item in self.per_account:
                await self._limiter.clear(item, "login-account", account)
        except StorageError:
            raise ServiceUnavailable("Rate limiting is unavailable; try again shortly.") from None

    async def register_attempt(self, ip: str | None) -> None:
        """Count an account creation from `ip`."""
        await self._hit(self.register_per_ip, "register-ip", self._ip(ip))

    async def refresh_attempt(self, ip: str | None) -> None:
        """Count a refresh-token exchange from `ip`."""
        await self._hit(self.refresh_per_ip, "refresh-ip", self._ip(ip))

    async def external_attempt(self, ip: str | None) -> None:
        """Count a sign-in through another provider from `ip` (`beginExternalLogin`,
        `loginWithIdToken`, `linkExternalIdentity`) against the per-IP login limit, the
        same counter password attempts fill."""
        await self._hit(self.per_ip, "login-ip", self._ip(ip))

    async def introspect_attempt(self, caller_credential_id: str) -> None:
        """Count a `POST /oauth/introspect` call by the API token `caller_credential_id`
        (`INTROSPECT_LIMIT`): a leaked service token cannot be used to test many values."""
        await self._hit(
            self.introspect_per_caller,
            "introspect-caller",
            keyed_digest(self._key, caller_credential_id)[:32],
        )

    async def mail_attempt(self, address: str, ip: str | None) -> None:
        """Count a request that mails `address` (a reset, a verification, an email change)
        from `ip` (`MAIL_LIMIT_PER_IP`, then `MAIL_LIMIT_PER_ADDRESS`); `RateLimited` when
        over. The address is counted whether or not an account has it, so the limit tells
        nobody which addresses are known, and no one can flood a mailbox."""
        await self._hit(self.mail_per_ip, "mail-ip", self._ip(ip))
        await self._hit(
            self.mail_per_address, "mail-address", keyed_digest(self._key, address.strip().lower())[:32]
        )

    @property
    def longest_wait(self) -> int:
        """The longest any account can be made to wait, in seconds."""
        return max(item.get_expiry() for item in self.per_account)
