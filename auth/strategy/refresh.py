"""Opaque refresh tokens that rotate; presenting a used one revokes its whole family."""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from auth.identity_cache import IdentityCache
from auth.secrets import REFRESH_TOKEN_PATTERN, REFRESH_TOKEN_PREFIX, digest, new_secret
from auth.strategy.rows import is_live, load_live_by_id
from core.clock import as_utc, utcnow
from core.settings import Settings
from models import Credential, CredentialKind, RefreshToken, User


class RefreshRejected(Exception):
    """Unknown, expired, revoked or reused refresh token."""


class RefreshStrategy:
    """Creates refresh-token families and rotates their tokens."""

    def __init__(self, settings: Settings, identity_cache: IdentityCache | None = None) -> None:
        self.settings = settings
        self.identity_cache = identity_cache

    def family_end(self, family: Credential) -> datetime:
        """When `family` ends for good, however often it rotates: its sign-in time
        (`created_at`, never updated) plus `refresh_family_max_age`."""
        return as_utc(family.created_at) + timedelta(seconds=self.settings.refresh_family_max_age)

    def _expiry(self, now: datetime, family_end: datetime) -> datetime:
        """A refresh token's expiry: the sliding TTL, never past the family's end."""
        return min(now + timedelta(seconds=self.settings.refresh_token_ttl), family_end)

    async def write_family(
        self, user: User, user_agent: str | None, ip: str | None
    ) -> tuple[str, Credential]:
        """A new family with its first refresh token (both rows or neither)."""
        now = utcnow()
        # `created_at` is stamped at insert, a moment after `now`: the end computed from it
        # later is never earlier than this one.
        expires_at = self._expiry(now, now + timedelta(seconds=self.settings.refresh_family_max_age))
        token = new_secret(REFRESH_TOKEN_PREFIX)
        async with in_transaction():
            family = await Credential.create(
                user=user,
                kind=CredentialKind.REFRESH,
                expires_at=expires_at,
                last_used_at=now,
                user_agent=user_agent,
                ip=ip,
            )
            await RefreshToken.create(family=family, token_hash=digest(token), expires_at=expires_at)
        return token, family

    async def rotate(self, token: str) -> tuple[str, Credential]:
        """Spend `token` and return its successor and the family (with the user loaded).

        Marking the token used is one conditional UPDATE, so of two concurrent
        rotations exactly one wins; the other is treated as reuse. The spend and the
        successor are one transaction: a failure while storing the successor leaves the
        token unspent, so the client's retry is a retry, not a reuse. A family past its
        absolute end (`family_end`) rotates no more: the user signs in again.
        """
        if not REFRESH_TOKEN_PATTERN.fullmatch(token):
            raise RefreshRejected("malformed")
        now = utcnow()
        row = await RefreshToken.filter(token_hash=digest(token)).select_related("family__user").first()
        if row is None:
            raise RefreshRejected("unknown")
        family = row.family
        end = self.family_end(family)
        successor: str | None = None
        async with in_transaction():
            won = await RefreshToken.filter(id=row.id, used_at__isnull=True).update(used_at=now)
            usable = as_utc(row.expires_at) > now and now < end and is_live(family, self.settings, now)
            if won and usable:
                expires_at = self._expiry(now, end)
                successor = new_secret(REFRESH_TOKEN_PREFIX)
                await RefreshToken.create(family=family, token_hash=digest(successor), expires_at=expires_at)
                await Credential.filter(id=family.id).update(expires_at=expires_at, last_used_at=now)
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
        await Credential.filter(id=family_id, revoked_at__isnull=True).update(revoked_at=utcnow())

    async def read_family(self, family_id: str) -> Credential | None:
        """The live family (with its user) an access token belongs to."""
        return await load_live_by_id(family_id, CredentialKind.REFRESH, self.settings)
