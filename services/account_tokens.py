"""Tokens mailed to a user (contract section 11): made, found, spent and voided.

A token is 256 random bits (`auth.secrets.new_secret`); the database keeps its SHA-256
digest only, like an API token's. It serves one purpose, expires (`TOKEN_LIFETIMES`),
is spent once by an update that only one request can win, and a newer token of the
same purpose deletes the user's older ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from auth.secrets import digest, new_secret
from core.clock import utcnow
from models import AccountToken, TokenPurpose, User

TOKEN_LIFETIMES: dict[TokenPurpose, timedelta] = {
    TokenPurpose.VERIFY_EMAIL: timedelta(hours=24),
    TokenPurpose.RESET_PASSWORD: timedelta(minutes=30),
    TokenPurpose.CHANGE_EMAIL: timedelta(hours=1),
}
# What `new_secret()` makes: 32 bytes, base64url without padding. Anything else is
# refused before a digest is computed or the database is asked.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


async def issue(user_id: str, purpose: TokenPurpose, email: str, now: datetime | None = None) -> str:
    """A new token for `purpose`, mailed to `email` (normalised); the user's older tokens
    of that purpose end here, so at most one is live however many requests race."""
    now = now or utcnow()
    token = new_secret()
    async with in_transaction():
        # The user's row locked (PostgreSQL; SQLite runs one write transaction at a
        # time): a concurrent issue waits here, and its delete then sees this token.
        await User.filter(id=user_id).select_for_update().only("id").first()
        await AccountToken.filter(user_id=user_id, purpose=purpose).delete()
        await AccountToken.create(
            user_id=user_id,
            purpose=purpose,
            token_hash=digest(token),
            email=email,
            expires_at=now + TOKEN_LIFETIMES[purpose],
        )
    return token


async def find_live(token: str, purpose: TokenPurpose, now: datetime | None = None) -> AccountToken | None:
    """The unspent, unexpired row of `token` for `purpose`, with its user; else None."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    row = (
        await AccountToken.filter(token_hash=digest(token), purpose=purpose, used_at=None)
        .select_related("user")
        .first()
    )
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    return row


async def spend(row: AccountToken, now: datetime | None = None) -> bool:
    """Mark `row` used; False when another request spent it first (or it expired meanwhile)."""
    now = now or utcnow()
    spent = await AccountToken.filter(id=row.id, used_at=None, expires_at__gt=now).update(used_at=now)
    return spent == 1


async def void(user_id: str, purposes: Iterable[TokenPurpose]) -> int:
    """End the user's tokens of `purposes`, spent or not: what they would do is moot."""
    return await AccountToken.filter(user_id=user_id, purpose__in=list(purposes)).delete()
