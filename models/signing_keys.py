"""Access-token signing keys (`JWT_ALGORITHM` EdDSA or ES256), shared by every instance.

The public part is stored as a JWK; the private part only as a compact JWE (`dir`,
`A256GCM`) under a key derived from `SECRET_KEY`, so a copy of the database alone signs
nothing. A key is never deleted by rotation: `retired_at` ends it.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class SigningKey(Model):
    """One key pair: the newest live one signs, every live one verifies"""

    # RFC 7638 thumbprint of the public JWK: names the key in the `kid` header.
    kid = fields.CharField(max_length=64, primary_key=True)
    algorithm = fields.CharField(max_length=16)
    public_jwk: dict[str, Any] = fields.JSONField()  # type: ignore[assignment]
    private_jwe = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True, index=True)
    # `rotate-keys --activate-after`: published from created_at, signing only from then.
    activates_at = fields.DatetimeField(null=True)
    retired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "signing_keys"

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, algorithm={self.algorithm!r})"
