"""Tokens sent by mail: verify an address, reset a forgotten password, change the email.

Only the SHA-256 digest of each token is stored (like API tokens), so a copy of the
database opens no account. A token is used once (`used_at`), ends at `expires_at`, and
a newer request of the same purpose deletes the older ones still unused.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.users import User


class TokenPurpose(str, Enum):
    """What a mailed token lets its holder do."""

    VERIFY_EMAIL = "VERIFY_EMAIL"
    RESET_PASSWORD = "RESET_PASSWORD"
    CHANGE_EMAIL = "CHANGE_EMAIL"


class AccountToken(Model):
    """One token mailed to a user, for one purpose"""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="account_tokens", on_delete=fields.CASCADE
    )
    purpose = fields.CharEnumField(TokenPurpose, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    # The address the token was mailed to: verifying it proves that address only, and an
    # email change moves the account to it.
    email = fields.CharField(max_length=320)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    user_id: str

    class Meta:
        table = "account_tokens"
        indexes = (("user_id", "purpose"),)

    def __repr__(self) -> str:  # never the digest or the address
        return f"<AccountToken {self.purpose} {self.id}>"

    __str__ = __repr__
