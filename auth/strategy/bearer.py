"""Bearer token pairs: a short-lived JWT access token and a rotating refresh token.

The `jwt` scheme's strategy: `JWTStrategy` signs and verifies the access tokens,
`RefreshStrategy` keeps the families they belong to. An access token is live while its
family is, so revoking the family ends both at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from auth.identity import PASSWORD_AMR, Identity, Scheme
from auth.keyring import Signer
from auth.strategy.jwt import InvalidAccessToken, JWTStrategy, UnknownKeyId
from auth.strategy.refresh import RefreshStrategy
from auth.strategy.rows import LiveCredentials
from core.clock import as_utc

if TYPE_CHECKING:
    from core.client import ClientInfo
    from models import Credential, User


@dataclass(frozen=True)
class BearerTokens:
    """What a mobile client keeps: a short-lived access token and a refresh token."""

    access_token: str
    refresh_token: str
    expires_in: int
    # The refresh-token family both belong to (the `current` credential of their requests).
    family_id: str
    # The family's sign-in: when, and by which methods (RFC 8176).
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"BearerTokens(expires_in={self.expires_in})"


def _sign_in_of(family: Credential) -> tuple[datetime | None, tuple[str, ...]]:
    auth_time = as_utc(family.auth_time) if family.auth_time is not None else None
    return auth_time, tuple(family.amr or ())


class BearerStrategy:
    """Issues, reads, rotates and ends token pairs (a `Strategy`, carried by `Bearer`)."""

    scheme = Scheme.JWT
    rejection = "Invalid or expired access token."

    def __init__(self, jwt: JWTStrategy, refresh: RefreshStrategy, live: LiveCredentials) -> None:
        self.jwt = jwt
        self.refresh = refresh
        self.live = live

    def signer(self) -> Signer:
        """The key the next access token is signed with; `NoUsableSigningKey` when no key
        can sign here. A caller about to write something a sign-in needs (an account)
        takes it first and hands it to `write_token`, so nothing is written in vain."""
        return self.jwt.keyring.signer

    async def write_token(
        self,
        user: User,
        client: ClientInfo,
        amr: Sequence[str] = PASSWORD_AMR,
        signer: Signer | None = None,
    ) -> BearerTokens:
        """A new refresh-token family, signed in now with the methods `amr`, and its first
        access token, signed by `signer` (taken by the caller before its own writes) or
        the key ring's of now."""
        if signer is None:
            signer = self.jwt.keyring.signer  # before the family: no key to sign with, no row
        refresh_token, family = await self.refresh.write_family(user, client.user_agent, client.ip, amr)
        auth_time, family_amr = _sign_in_of(family)
        access_token, expires_in = self.jwt.issue(
            str(user.id),
            str(family.id),
            self.refresh.family_end(family),
            roles=user.roles,
            auth_time=auth_time,
            amr=family_amr,
            signer=signer,
        )
        return BearerTokens(access_token, refresh_token, expires_in, str(family.id), auth_time, family_amr)

    async def rotate(self, refresh_token: str) -> tuple[User, BearerTokens]:
        """Spend a refresh token for a new pair (`RefreshRejected` when it cannot be spent);
        the new access token never outlives the family's absolute end.

        The signer is taken before the token is spent: with no key to sign with
        (`NoUsableSigningKey`) nothing is spent, so the client's retry once a key is back
        is a retry, not a reuse that would end its family."""
        signer = self.jwt.keyring.signer
        successor, family = await self.refresh.rotate(refresh_token)
        end = self.refresh.family_end(family)
        auth_time, amr = _sign_in_of(family)
        access_token, expires_in = self.jwt.issue(
            str(family.user_id),
            str(family.id),
            end,
            roles=family.user.roles,
            auth_time=auth_time,
            amr=amr,
            signer=signer,
        )
        tokens = BearerTokens(access_token, successor, expires_in, str(family.id), auth_time, amr)
        return family.user, tokens

    async def read_token(self, token: str, presented_as: str, client: ClientInfo) -> Identity | None:
        """The identity of an access token: verified, and its family live (through the
        identity cache, under the user the token names)."""
        try:
            # The plain `verify` first (no coroutine on the common path, a remembered
            # token); only an unknown kid goes through the key ring's reload.
            claims = self.jwt.verify(token)
        except UnknownKeyId:
            try:
                claims = await self.jwt.verify_or_reload(token)
            except InvalidAccessToken:
                return None
        except InvalidAccessToken:
            return None
        family_id = claims.family_id
        family = await self.live.cached(
            "f:" + family_id, lambda: self.refresh.read_family(family_id), claims.user_id
        )
        if family is None or str(family.user_id) != claims.user_id:
            return None
        return self.live.identity(family, Scheme.JWT, presented_as)

    async def destroy_token(self, identity: Identity) -> None:
        """End the family the request's access token belongs to."""
        if identity.credential_id is not None:
            await self.refresh.revoke_family(identity.credential_id)
