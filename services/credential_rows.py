"""Credential and refresh-token rows: the ORM side of the strategies' `CredentialStore`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from core.clock import utcnow
from models import Credential, CredentialKind, ExternalIdentity, ExternalLoginFlow, RefreshToken, User


class CredentialRows:
    """Reads and writes credential rows for the strategies (`auth.strategy.stores.CredentialStore`)."""

    async def find(
        self, kind: CredentialKind, *, secret_hash: str | None = None, credential_id: str | None = None
    ) -> Credential | None:
        """The row of `kind` with this secret digest or id, its user loaded, in one query."""
        if secret_hash is not None:
            query = Credential.filter(secret_hash=secret_hash, kind=kind)
        elif credential_id is not None:
            query = Credential.filter(id=credential_id, kind=kind)
        else:
            raise TypeError("find needs a secret_hash or a credential_id")
        return await query.select_related("user").first()

    async def record_use(self, credential_id: str, at: datetime) -> None:
        """Store `at` as the row's last use."""
        await Credential.filter(id=credential_id).update(last_used_at=at)

    async def create(
        self,
        user: User,
        kind: CredentialKind,
        *,
        expires_at: datetime,
        secret_hash: str | None = None,
        name: str | None = None,
        scopes: Sequence[str] = (),
        last_used_at: datetime | None = None,
        user_agent: str | None = None,
        ip: str | None = None,
        auth_time: datetime | None = None,
        amr: Sequence[str] = (),
    ) -> Credential:
        """A new row; `auth_time` and `amr` record the sign-in behind it."""
        return await Credential.create(
            user=user,
            kind=kind,
            secret_hash=secret_hash,
            name=name,
            scopes=list(scopes),
            expires_at=expires_at,
            last_used_at=last_used_at,
            user_agent=user_agent,
            ip=ip,
            auth_time=auth_time,
            amr=list(amr),
        )

    async def revoke(self, credential_id: str) -> None:
        """End the row now, unless it already ended."""
        await Credential.filter(id=credential_id, revoked_at__isnull=True).update(revoked_at=utcnow())

    async def delete(self, credential_id: str) -> None:
        """Remove the row."""
        await Credential.filter(id=credential_id).delete()

    async def create_family(
        self,
        user: User,
        token_hash: str,
        expires_at: datetime,
        at: datetime,
        user_agent: str | None,
        ip: str | None,
        amr: Sequence[str] = (),
    ) -> Credential:
        """A refresh family with its first token, both rows or neither; signed in at `at`
        with the methods `amr`."""
        async with in_transaction():
            family = await Credential.create(
                user=user,
                kind=CredentialKind.REFRESH,
                expires_at=expires_at,
                last_used_at=at,
                user_agent=user_agent,
                ip=ip,
                auth_time=at,
                amr=list(amr),
            )
            await RefreshToken.create(family=family, token_hash=token_hash, expires_at=expires_at)
        return family

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """The refresh token with this digest, with its family and the family's user."""
        return await RefreshToken.filter(token_hash=token_hash).select_related("family__user").first()

    async def spend_refresh_token(
        self, token_id: str, family_id: str, at: datetime, successor: tuple[str, datetime] | None
    ) -> bool:
        """Mark the token used with one conditional UPDATE, so of two concurrent spends
        exactly one wins; the winner stores its `successor` (digest, expiry) and extends
        the family in the same transaction, so a failure there leaves the token unspent."""
        async with in_transaction():
            won = await RefreshToken.filter(id=token_id, used_at__isnull=True).update(used_at=at)
            if won and successor is not None:
                token_hash, expires_at = successor
                await RefreshToken.create(family_id=family_id, token_hash=token_hash, expires_at=expires_at)
                await Credential.filter(id=family_id).update(expires_at=expires_at, last_used_at=at)
        return bool(won)


async def revoke_all_of(user_id: str, keep: str | None = None) -> int:
    """End every live credential of a user but `keep`; how many ended.

    Links to other providers are credentials too and end, except the one the account was
    created with: it is how an account without a password signs in, so it stays, and
    only the provider tokens issued until now stop working on it (`tokens_not_before`).
    Links begun and not finished end too (but one begun by `keep`): a flow begun with a
    stolen session must not link the thief's provider account after the owner's logout.
    """
    now = utcnow()
    pending_links = ExternalLoginFlow.filter(user_id=user_id)
    if keep is not None:
        pending_links = pending_links.filter(Q(credential_id__isnull=True) | Q(credential_id__not=keep))
    await pending_links.delete()
    origin = ExternalIdentity.filter(user_id=user_id, created_account=True)
    kept = [str(i) for i in await origin.values_list("credential_id", flat=True)]
    if kept:
        await origin.update(tokens_not_before=now)
    query = Credential.filter(user_id=user_id, revoked_at__isnull=True)
    if keep is not None:
        kept.append(keep)
    if kept:
        query = query.exclude(id__in=kept)
    return int(await query.update(revoked_at=now))


async def kind_of_own(user_id: str, credential_id: str) -> CredentialKind | None:
    """The kind of one live credential of `user_id`, or `None` when there is none such."""
    row = await Credential.filter(id=credential_id, user_id=user_id, revoked_at__isnull=True).first()
    return None if row is None else CredentialKind(row.kind)


async def live_links_of(user_id: str) -> int:
    """How many live links to other providers the user has."""
    return await Credential.filter(
        user_id=user_id, kind=CredentialKind.EXTERNAL, revoked_at__isnull=True
    ).count()


async def revoke_own(user_id: str, credential_id: str) -> bool:
    """End one live credential if `user_id` holds it; False when there is none such."""
    count = await Credential.filter(id=credential_id, user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=utcnow()
    )
    return bool(count)


async def live_of(user_id: str) -> list[Credential]:
    """The user's credentials that are neither revoked nor expired, newest first."""
    return await Credential.filter(
        user_id=user_id, revoked_at__isnull=True, expires_at__gt=utcnow()
    ).order_by("-created_at")


async def renew_auth_time(user_id: str, credential_id: str, at: datetime, amr: Sequence[str]) -> bool:
    """Record a new proof of identity (`reauthenticate`) on the user's live row; False
    when there is none such (revoked meanwhile)."""
    count = await Credential.filter(id=credential_id, user_id=user_id, revoked_at__isnull=True).update(
        auth_time=at, amr=list(amr)
    )
    return bool(count)
