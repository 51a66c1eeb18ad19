"""Opaque refresh tokens that rotate; presenting a used one revokes its whole family."""

from __future__ import annotations

from datetime import timedelta

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

    def _expiry(self):  # type: ignore[no-untyped-def]
        return utcnow() + timedelta(seconds=self.settings.refresh_token_ttl)

    async def write_family(
        self, user: User, user_agent: str | None, ip: str | None
    ) -> tuple[str, Credential]:
        """A new family with its first refresh token."""
        expires_at = self._expiry()
        family = await Credential.create(
            user=user,
            kind=CredentialKind.REFRESH,
            expires_at=expires_at,
            last_used_at=utcnow(),
            user_agent=user_agent,
            ip=ip,
        )
        token = new_secret(REFRESH_TOKEN_PREFIX)
        await RefreshToken.create(family=family, token_hash=digest(token), expires_at=expires_at)
        return token, family

    async def rotate(self, token: str) -> tuple[str, Credential]:
        """Spend `token` and return its successor and the family (with the user loaded).

        Marking the token used is one conditional UPDATE, so of two concurrent
        rotations exactly one wins; the other is treated as reuse.
        """
        if not REFRESH_TOKEN_PATTERN.fullmatch(token):
            raise RefreshRejected("malformed")
        now = utcnow()
        row = await RefreshToken.filter(token_hash=digest(token)).select_related("family__user").first()
        if row is None:
            raise RefreshRejected("unknown")
        family = row.family
        won = await RefreshToken.filter(id=row.id, used_at__isnull=True).update(used_at=now)
        if not won:
            await self.revoke_family(str(family.id))
            if self.identity_cache is not None:
                await self.identity_cache.invalidate_user(str(family.user_id))
            raise RefreshRejected("reused")
        if as_utc(row.expires_at) <= now or not is_live(family, self.settings, now):
            raise RefreshRejected("expired or revoked")
        expires_at = self._expiry()
        successor = new_secret(REFRESH_TOKEN_PREFIX)
        async with in_transaction():
            await RefreshToken.create(family=family, token_hash=digest(successor), expires_at=expires_at)
            await Credential.filter(id=family.id).update(expires_at=expires_at, last_used_at=now)
        return successor, family

    async def revoke_family(self, family_id: str) -> None:
        """End a family: its access tokens and refresh tokens stop working at once."""
        await Credential.filter(id=family_id, revoked_at__isnull=True).update(revoked_at=utcnow())

    async def read_family(self, family_id: str) -> Credential | None:
        """The live family (with its user) an access token belongs to."""
        return await load_live_by_id(family_id, CredentialKind.REFRESH, self.settings)
