"""Whether credential rows are still live, and reading them through the identity cache."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from auth.identity import DerivedIdentities, Identity, Scheme
from auth.identity_cache import IdentityCache
from auth.strategy.stores import CredentialStore
from core.clock import as_utc, utcnow
from core.settings import Settings
from models import CredentialKind

if TYPE_CHECKING:
    from models import Credential

T = TypeVar("T")


def is_live(credential: Credential, settings: Settings, now: datetime | None = None) -> bool:
    """Not revoked, not expired, not idle too long (sessions), not past the family's
    absolute end (refresh families), and the user is active."""
    now = now or utcnow()
    if credential.revoked_at is not None or as_utc(credential.expires_at) <= now:
        return False
    if credential.kind == CredentialKind.SESSION:
        last_seen = as_utc(credential.last_used_at or credential.created_at)
        if last_seen + timedelta(seconds=settings.session_idle_timeout) <= now:
            return False
    elif credential.kind == CredentialKind.REFRESH:
        # A family's absolute end, even where a row's expiry predates the setting.
        if as_utc(credential.created_at) + timedelta(seconds=settings.refresh_family_max_age) <= now:
            return False
    return bool(credential.user.is_active)


def use_is_due(credential: Credential, settings: Settings, now: datetime) -> bool:
    """Whether a use at `now` must be written: at most once per `last_used_write_interval`."""
    last = credential.last_used_at
    return last is None or (now - as_utc(last)).total_seconds() >= settings.last_used_write_interval


async def cached_read(
    cache: IdentityCache,
    key: str,
    load: Callable[[], Awaitable[T | None]],
    is_usable: Callable[[T], bool],
    owner_of: Callable[[T], str],
    owner_hint: str | None = None,
) -> T | None:
    """`load()`'s row for `key`, from the identity cache while its generation holds.

    A cached row that is no longer usable (expired, say) is read again rather than
    refused: the database may know better (a refresh extends a family's expiry).
    """
    row: Any
    row, generation = await cache.get(key, owner_hint)
    if row is not None:
        if is_usable(row):
            return row
        cache.forget(key)
        _, generation = await cache.get(key, owner_hint)
    row = await load()
    if row is not None:
        cache.put(key, owner_of(row), generation, row)
    return row


class LiveCredentials:
    """Live credential rows from `store`, through the identity cache, with use recorded.

    Shared by the session, JWT and API-token strategies: the database read (`find`) and
    the cached read in front of it (`cached`), and the identity each row stands for.
    """

    def __init__(
        self, store: CredentialStore, settings: Settings, cache: IdentityCache, identities: DerivedIdentities
    ) -> None:
        self.store = store
        self.settings = settings
        self.cache = cache
        self.identities = identities

    async def find(
        self, kind: CredentialKind, *, secret_hash: str | None = None, credential_id: str | None = None
    ) -> Credential | None:
        """The live row of `kind` (with its user) from the database, its use recorded."""
        row = await self.store.find(kind, secret_hash=secret_hash, credential_id=credential_id)
        now = utcnow()
        if row is None or not is_live(row, self.settings, now):
            return None
        if use_is_due(row, self.settings, now):
            row.last_used_at = now
            await self.store.record_use(str(row.id), now)
        return row

    async def cached(
        self, key: str, load: Callable[[], Awaitable[Credential | None]], owner_hint: str | None = None
    ) -> Credential | None:
        """The live row for `key`: from the identity cache while its generation holds and
        the row is still live, else `load()`ed; a use is written only when one is due."""
        settings = self.settings
        now = utcnow()
        cache = self.cache
        row: Credential | None
        row, generation = await cache.get(key, owner_hint)
        if row is not None and not is_live(row, settings, now):
            # Read again rather than refused: the database may know better (a refresh
            # extends a family's expiry).
            cache.forget(key)
            row = None
            _, generation = await cache.get(key, owner_hint)
        if row is None:
            row = await load()
            if row is None:
                return None
            cache.put(key, str(row.user_id), generation, row)
        if use_is_due(row, settings, now):
            row.last_used_at = now
            await self.store.record_use(str(row.id), now)
        return row

    def identity(self, row: Credential, scheme: Scheme, presented_as: str) -> Identity:
        """The identity a live row stands for (the same object while the row is served again)."""
        return self.identities.of(row, scheme, presented_as)
