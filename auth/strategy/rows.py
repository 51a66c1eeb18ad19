"""Loading credential rows (with their user) and deciding whether they are still live."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.clock import as_utc, utcnow
from core.settings import Settings
from models import Credential, CredentialKind


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


async def touch(credential: Credential, settings: Settings, now: datetime | None = None) -> None:
    """Record use, at most once per `last_used_write_interval`; reads in between write nothing."""
    now = now or utcnow()
    last = credential.last_used_at
    if last is not None and (now - as_utc(last)).total_seconds() < settings.last_used_write_interval:
        return
    credential.last_used_at = now
    await Credential.filter(id=credential.id).update(last_used_at=now)


async def load_live_by_hash(secret_hash: str, kind: CredentialKind, settings: Settings) -> Credential | None:
    """The live credential of `kind` whose secret digests to `secret_hash`, with its user."""
    credential = await Credential.filter(secret_hash=secret_hash, kind=kind).select_related("user").first()
    if credential is None or not is_live(credential, settings):
        return None
    await touch(credential, settings)
    return credential


async def load_live_by_id(credential_id: str, kind: CredentialKind, settings: Settings) -> Credential | None:
    """The live credential `credential_id` of `kind`, with its user, in one query."""
    credential = await Credential.filter(id=credential_id, kind=kind).select_related("user").first()
    if credential is None or not is_live(credential, settings):
        return None
    await touch(credential, settings)
    return credential
