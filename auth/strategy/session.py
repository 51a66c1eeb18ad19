"""Server-side sessions: the cookie holds 256 random bits; the row holds their digest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from auth.identity import PASSWORD_AMR, Identity, Scheme
from auth.secrets import SESSION_ID_PATTERN, digest, new_secret
from auth.strategy.rows import LiveCredentials
from core.clock import utcnow
from models import CredentialKind

if TYPE_CHECKING:
    from core.client import ClientInfo
    from models import Credential, User


class SessionStrategy:
    """Creates, reads and ends session rows (a `Strategy`, carried by the session cookie)."""

    scheme = Scheme.SESSION
    rejection = "Invalid, expired or revoked session."

    def __init__(self, live: LiveCredentials) -> None:
        self.live = live
        self.settings = live.settings

    async def write_token(
        self, user: User, client: ClientInfo, amr: Sequence[str] = PASSWORD_AMR
    ) -> tuple[str, Credential]:
        """A new session for `user`, signed in now with the methods `amr`: the cookie
        value (shown once) and the row."""
        session_id = new_secret()
        now = utcnow()
        row = await self.live.store.create(
            user,
            CredentialKind.SESSION,
            secret_hash=digest(session_id),
            expires_at=now + timedelta(seconds=self.settings.session_absolute_timeout),
            last_used_at=now,
            user_agent=client.user_agent,
            ip=client.ip,
            auth_time=now,
            amr=amr,
        )
        return session_id, row

    async def read(self, session_id: str) -> Credential | None:
        """The live session behind a cookie value, from the database, or `None` (unknown,
        expired, idle, revoked)."""
        if not SESSION_ID_PATTERN.fullmatch(session_id):
            return None
        return await self.live.find(CredentialKind.SESSION, secret_hash=digest(session_id))

    async def read_token(self, token: str, presented_as: str, client: ClientInfo) -> Identity | None:
        """The identity of a session cookie value, through the identity cache."""
        row = await self.live.cached("s:" + digest(token), lambda: self.read(token))
        return None if row is None else self.live.identity(row, Scheme.SESSION, presented_as)

    async def destroy_token(self, identity: Identity) -> None:
        """End the session the request came with."""
        if identity.credential_id is not None:
            await self.live.store.revoke(identity.credential_id)

    async def discard(self, credential_id: str) -> None:
        """Remove a session row outright (the one a new sign-in replaces: no fixation)."""
        await self.live.store.delete(credential_id)
