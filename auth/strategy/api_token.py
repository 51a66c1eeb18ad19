"""API tokens: `gth_` + 256 random bits, many per user, named, scoped, expiring, hashed."""

from __future__ import annotations

from datetime import datetime, timedelta

from auth.secrets import API_TOKEN_PATTERN, API_TOKEN_PREFIX, digest, new_secret
from auth.strategy.rows import load_live_by_hash
from core.clock import utcnow
from core.settings import Settings
from models import Credential, CredentialKind, User


def looks_like_api_token(value: str) -> bool:
    """True when `value` carries the API token prefix (a JWT never does)."""
    return value.startswith(API_TOKEN_PREFIX)


class ApiTokenStrategy:
    """Creates and reads API tokens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def write(
        self,
        user: User,
        name: str,
        scopes: list[str],
        expires_in_days: int,
        user_agent: str | None,
        now: datetime | None = None,
    ) -> tuple[str, Credential]:
        """A new token: the plain value (shown once) and its row, expiring `expires_in_days`
        after `now` (the moment the caller checked the request against, by default the
        current time)."""
        token = new_secret(API_TOKEN_PREFIX)
        row = await Credential.create(
            user=user,
            kind=CredentialKind.API_TOKEN,
            secret_hash=digest(token),
            name=name,
            scopes=scopes,
            expires_at=(now or utcnow()) + timedelta(days=expires_in_days),
            user_agent=user_agent,
        )
        return token, row

    async def read(self, token: str) -> Credential | None:
        """The live token row for `token`, or `None`."""
        if not API_TOKEN_PATTERN.fullmatch(token):
            return None
        return await load_live_by_hash(digest(token), CredentialKind.API_TOKEN, self.settings)
