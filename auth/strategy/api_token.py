"""API tokens: `gth_` + 256 random bits, many per user, named, scoped, expiring, hashed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from auth.identity import Identity, Scheme
from auth.secrets import API_TOKEN_PATTERN, API_TOKEN_PREFIX, digest, new_secret
from auth.strategy.rows import LiveCredentials
from core.clock import utcnow
from models import CredentialKind

if TYPE_CHECKING:
    from core.client import ClientInfo
    from models import Credential, User


def looks_like_api_token(value: str) -> bool:
    """True when `value` carries the API token prefix (a JWT never does)."""
    return value.startswith(API_TOKEN_PREFIX)


class ApiTokenStrategy:
    """Creates, reads and ends API tokens (a `Strategy`, carried by the Authorization header)."""

    scheme = Scheme.TOKEN
    rejection = "Invalid, expired or revoked API token."

    def __init__(self, live: LiveCredentials) -> None:
        self.live = live
        # The longest lifetime a token may be created with, in days.
        self.max_days = live.settings.api_token_max_days

    async def write_token(
        self,
        user: User,
        name: str,
        scopes: list[str],
        expires_in_days: int,
        user_agent: str | None,
        now: datetime | None = None,
        *,
        auth_time: datetime | None = None,
        amr: Sequence[str] = (),
    ) -> tuple[str, Credential]:
        """A new token: the plain value (shown once) and its row, expiring `expires_in_days`
        after `now` (the moment the caller checked the request against, by default the
        current time). `auth_time` and `amr` are the sign-in of the credential that creates
        it (a token is never signed in by itself); step-up exempts tokens, so they only
        tell where a token came from."""
        token = new_secret(API_TOKEN_PREFIX)
        row = await self.live.store.create(
            user,
            CredentialKind.API_TOKEN,
            secret_hash=digest(token),
            name=name,
            scopes=scopes,
            expires_at=(now or utcnow()) + timedelta(days=expires_in_days),
            user_agent=user_agent,
            auth_time=auth_time,
            amr=amr,
        )
        return token, row

    async def read(self, token: str) -> Credential | None:
        """The live token row for `token`, from the database, or `None`."""
        if not API_TOKEN_PATTERN.fullmatch(token):
            return None
        return await self.live.find(CredentialKind.API_TOKEN, secret_hash=digest(token))

    async def read_token(self, token: str, presented_as: str, client: ClientInfo) -> Identity | None:
        """The identity of an API token, through the identity cache."""
        row = await self.live.cached("t:" + digest(token), lambda: self.read(token))
        return None if row is None else self.live.identity(row, Scheme.TOKEN, presented_as)

    async def destroy_token(self, identity: Identity) -> None:
        """End the token the request came with."""
        if identity.credential_id is not None:
            await self.live.store.revoke(identity.credential_id)
