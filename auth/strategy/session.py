"""Server-side sessions: the cookie holds 256 random bits; the row holds their digest."""

from __future__ import annotations

from datetime import timedelta

from auth.secrets import SESSION_ID_PATTERN, digest, new_secret
from auth.strategy.rows import load_live_by_hash
from core.clock import utcnow
from core.settings import Settings
from models import Credential, CredentialKind, User


class SessionStrategy:
    """Creates, reads and destroys session rows."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def write(self, user: User, user_agent: str | None, ip: str | None) -> tuple[str, Credential]:
        """A new session for `user`: returns the cookie value (shown once) and the row."""
        session_id = new_secret()
        now = utcnow()
        row = await Credential.create(
            user=user,
            kind=CredentialKind.SESSION,
            secret_hash=digest(session_id),
            expires_at=now + timedelta(seconds=self.settings.session_absolute_timeout),
            last_used_at=now,
            user_agent=user_agent,
            ip=ip,
        )
        return session_id, row

    async def read(self, session_id: str) -> Credential | None:
        """The live session behind a cookie value, or `None` (unknown, expired, idle, revoked)."""
        if not SESSION_ID_PATTERN.fullmatch(session_id):
            return None
        return await load_live_by_hash(digest(session_id), CredentialKind.SESSION, self.settings)
