"""Credentials a user holds: sessions, refresh-token families, API tokens and linked identities.

Every kind is one `Credential` row so that listing and revoking treat them alike.
Secrets are never stored: only SHA-256 digests of high-entropy random values.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.users import User


class CredentialKind(str, Enum):
    """What a credential row stands for."""

    SESSION = "SESSION"
    REFRESH = "REFRESH"
    API_TOKEN = "API_TOKEN"
    # A linked account at another OpenID provider (models/external_identities.py).
    EXTERNAL = "EXTERNAL"


class Credential(Model):
    """A session, a refresh-token family or an API token."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="credentials", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(CredentialKind, max_length=16)
    # Digest of the cookie value or the API token; null for refresh families,
    # whose secrets live in `RefreshToken`.
    secret_hash = fields.CharField(max_length=64, unique=True, null=True)
    name = fields.CharField(max_length=100, null=True)
    scopes: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField()
    user_agent = fields.CharField(max_length=256, null=True)
    ip = fields.CharField(max_length=64, null=True)
    revoked_at = fields.DatetimeField(null=True, index=True)
    # When the user last proved who they are for this credential (step-up, contract
    # section 12): the sign-in that made it, renewed by `reauthenticate`. Null on rows
    # made before it was recorded, which count as stale.
    auth_time = fields.DatetimeField(null=True)
    # RFC 8176 method names of that proof, e.g. ["pwd"]. Nullable like `auth_time`, so
    # that the column can be added to a table that already holds rows (SQLite refuses a
    # NOT NULL column without a database default).
    amr: list[str] | None = fields.JSONField(null=True)  # type: ignore[assignment]

    user_id: str

    class Meta:
        table = "credentials"

    def __repr__(self) -> str:
        return f"<Credential {self.kind} {self.id}>"

    __str__ = __repr__


class RefreshToken(Model):
    """One refresh token of a family, usable once, after which its successor takes over."""

    id = fields.UUIDField(primary_key=True)
    family: fields.ForeignKeyRelation[Credential] = fields.ForeignKeyField(
        "models.Credential", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    family_id: str

    class Meta:
        table = "refresh_tokens"

    def __repr__(self) -> str:
        return f"<RefreshToken {self.id}>"

    __str__ = __repr__
