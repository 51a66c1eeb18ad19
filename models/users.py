"""User accounts."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class User(Model):
    """An account. Username and email are unique on their lower-cased form."""

    id = fields.UUIDField(primary_key=True)
    username = fields.CharField(max_length=32)
    # Unique columns on the normalised values make uniqueness hold under races.
    username_key = fields.CharField(max_length=32, unique=True)
    email = fields.CharField(max_length=320)
    email_key = fields.CharField(max_length=320, unique=True)
    password_hash = fields.CharField(max_length=128)
    is_active = fields.BooleanField(default=True)
    roles: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    password_changed_at = fields.DatetimeField(null=True)
    # When the owner proved the address is theirs (contract section 11), null until then.
    email_verified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"
        # `users(first:, after:)` pages on (created_at, id): a keyset read of one page at any depth.
        indexes = (("created_at", "id"),)

    def __repr__(self) -> str:  # never show the hash
        return f"<User {self.id} {self.username!r}>"

    __str__ = __repr__
