"""Signing-key rows: the ORM side of `auth.keyring.SigningKeyStore`.

Rows come back oldest first; the key ring decides which one signs. Nothing here sees a
private key in the clear: `private_jwe` is encrypted before it reaches this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.clock import utcnow
from models import SigningKey


class SigningKeyRows:
    """Reads and writes `signing_keys` for the key ring and `main.py rotate-keys`."""

    async def live(self, algorithm: str) -> list[SigningKey]:
        """The keys of `algorithm` not retired, oldest first."""
        return await SigningKey.filter(algorithm=algorithm, retired_at=None).order_by("created_at", "kid")

    async def add(
        self,
        kid: str,
        algorithm: str,
        public_jwk: dict[str, Any],
        private_jwe: str,
        activates_at: datetime | None = None,
    ) -> SigningKey:
        """Store a new key (the newest): published at once, it signs once instances reload
        and its time has come (`auth.keyring.signs_from`; `activates_at` when given)."""
        return await SigningKey.create(
            kid=kid,
            algorithm=algorithm,
            public_jwk=public_jwk,
            private_jwe=private_jwe,
            activates_at=activates_at,
        )

    async def retire(self, kid: str, at: datetime | None = None) -> bool:
        """End the key `kid` (False when no live key has that kid)."""
        changed = await SigningKey.filter(kid=kid, retired_at=None).update(retired_at=at or utcnow())
        return changed > 0
