"""Opaque refresh tokens that rotate; presenting a used one revokes its whole family."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from auth.identity import PASSWORD_AMR
from auth.identity_cache import IdentityCache
from auth.secrets import REFRESH_TOKEN_PATTERN, REFRESH_TOKEN_PREFIX, digest, new_secret
from auth.strategy.rows import LiveCredentials, is_live
from core.clock import as_utc, utcnow
from models import CredentialKind

if TYPE_CHECKING:
    from models import Credential, User


class RefreshRejected(Exception):
    """Unknown, expired, revoked or reused refresh token."""


class RefreshStrategy:
    """Creates refresh-token families and rotates their tokens (the lasting half of the
    bearer strategy, `auth.strategy.bearer.BearerStrategy`)."""

    def __init__(self, live: LiveCredentials, identity_cache: IdentityCache | None = None) -> None:
        self.live = live
        self.store = live.store
        self.settings = live.settings
        self.identity_cache = identity_cache

    def family_end(self, family: Credential) -> datetime:
        """When `family` ends for good, however often it rotates: its sign-in time
        (`created_at`, never updated) plus `refresh_family_max_age`."""
        return as_utc(family.created_at) + timedelta(seconds=self.settings.refresh_family_max_age)

    def _expiry(self, now: datetime, family_end: datetime) -> datetime:
        """A refresh token's expiry: the sliding TTL, never past the family's end."""
        return min(now + timedelta(seconds=self.settings.refresh_token_ttl), family_end)

    async def write_family(
        self, user: User, user_agent: str | None, ip: str | None, amr: Sequence[str] = PASSWORD_AMR
    ) -> tuple[str, Credential]:
        """A new family with its first refresh token (both rows or neither), signed in now
        with the methods `amr`: its access tokens carry that `auth_time` however often it
        rotates."""
        now = utcnow()
        # `created_at` is stamped at insert, a moment after `now`: the end computed from it
        # later is never earlier than this one.
        expires_at = self._expiry(now, now + timedelta(seconds=self.settings.refresh_family_max_age))
        token = new_secret(REFRESH_TOKEN_PREFIX)
        family = await self.store.create_family(user, digest(token), expires_at, now, user_agent, ip, amr)
        return token, family

    async def rotate(self, token: str) -> tuple[str, Credential]:
        """Spend `token` and return its successor and the family (with the user loaded).

        The spend is one conditional UPDATE, so of two concurrent rotations exactly one
        wins; the other is treated as reuse. The spend and the successor are one
        transaction: a failure while storing the successor leaves the token unspent, so
        the client's retry is a retry, not a reuse. A family past its absolute end
        (`family_end`) rotates no more: the user signs in again.
        """
        if not REFRESH_TOKEN_PATTERN.fullmatch(token):
            raise RefreshRejected("malformed")
        now = utcnow()
        row = await self.store.find_refresh_token(digest(token))
        if row is None:
            raise RefreshRejected("unknown")
        family = row.family
        end = self.family_end(family)
        usable = as_utc(row.expires_at) > now and now < end and is_live(family, self.settings, now)
        successor = new_secret(REFRESH_TOKEN_PREFIX) if usable else None
        won = await self.store.spend_refresh_token(
            str(row.id),
            str(family.id),
            now,
            (digest(successor), self._expiry(now, end)) if successor is not None else None,
        )
        if not won:
            await self.revoke_family(str(family.id))
            if self.identity_cache is not None:
                await self.identity_cache.invalidate_user(str(family.user_id))
            raise RefreshRejected("reused")
        if successor is None:
            raise RefreshRejected("past the family's end" if now >= end else "expired or revoked")
        return successor, family

    async def revoke_family(self, family_id: str) -> None:
        """End a family: its access tokens and refresh tokens stop working at once."""
        await self.store.revoke(family_id)

    async def read_family(self, family_id: str) -> Credential | None:
        """The live family (with its user) an access token belongs to, from the database."""
        return await self.live.find(CredentialKind.REFRESH, credential_id=family_id)
