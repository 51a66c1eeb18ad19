"""What the strategies need from storage, as small protocols.

Strategies decide what a credential is and whether it still works; reading and writing
rows is the services' job (`services/credential_rows.py`, `services/user_rows.py`), and
the composition (`auth/backend.py`) hands each strategy its store. Tests may pass any
object of the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from models import Credential, CredentialKind, ExternalIdentity, RefreshToken, User


class CredentialStore(Protocol):
    """Credential rows (sessions, refresh families, API tokens) and refresh tokens."""

    async def find(
        self, kind: CredentialKind, *, secret_hash: str | None = None, credential_id: str | None = None
    ) -> Credential | None:
        """The row of `kind` with this secret digest or id, its user loaded, live or not."""
        ...

    async def record_use(self, credential_id: str, at: datetime) -> None:
        """Store `at` as the row's last use."""
        ...

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
        ...

    async def revoke(self, credential_id: str) -> None:
        """End the row now (it stays, revoked)."""
        ...

    async def delete(self, credential_id: str) -> None:
        """Remove the row."""
        ...

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
        """A refresh family with its first token (both rows or neither); its `auth_time`
        is `at`, the sign-in, with the methods `amr`."""
        ...

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """The refresh token with this digest, its family and the family's user loaded."""
        ...

    async def spend_refresh_token(
        self, token_id: str, family_id: str, at: datetime, successor: tuple[str, datetime] | None
    ) -> bool:
        """Mark the token used unless it already was (False then); when it was not and a
        `successor` (digest, expiry) is given, store it and extend the family, all in one
        transaction."""
        ...


class ExternalLinkStore(Protocol):
    """Links to other providers' accounts, as the trusted-issuer strategy reads them."""

    async def find_link(self, issuer: str, subject: str) -> ExternalIdentity | None:
        """The link of (issuer, subject), its credential and that credential's user
        loaded, live or not."""
        ...

    async def record_use(self, credential_id: str, at: datetime) -> None:
        """Store `at` as the link's credential's last use."""
        ...

    async def cut_tokens(self, credential_id: str, at: datetime) -> None:
        """Refuse, from now on, the provider tokens of this link issued until `at`."""
        ...


class UserStore(Protocol):
    """User rows, as the password strategies read them."""

    async def by_login(self, login: str) -> User | None:
        """The user whose username or email is `login`, ignoring case."""
        ...

    async def by_id(self, user_id: str) -> User | None:
        """The user with this id."""
        ...

    async def replace_password_hash(self, user_id: str, verified: str, upgraded: str) -> bool:
        """Store `upgraded` over `verified` only (False when the hash changed meanwhile)."""
        ...
