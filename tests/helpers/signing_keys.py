"""An in-memory `SigningKeyStore` for key-ring tests without a database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clock import utcnow


@dataclass
class MemoryKeyRow:
    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    private_jwe: str
    created_at: datetime
    activates_at: datetime | None = None
    retired_at: datetime | None = None


@dataclass
class MemorySigningKeys:
    """Rows in a list; each new row is a microsecond newer than the last, so "newest" is
    well defined even under a frozen clock. `loads` counts the reads."""

    rows: list[MemoryKeyRow] = field(default_factory=list)
    loads: int = 0

    async def live(self, algorithm: str) -> list[MemoryKeyRow]:
        self.loads += 1
        return [r for r in self.rows if r.algorithm == algorithm and r.retired_at is None]

    async def add(
        self,
        kid: str,
        algorithm: str,
        public_jwk: dict[str, Any],
        private_jwe: str,
        activates_at: datetime | None = None,
    ) -> MemoryKeyRow:
        created = utcnow()
        if self.rows:
            created = max(created, self.rows[-1].created_at + timedelta(microseconds=1))
        row = MemoryKeyRow(kid, algorithm, public_jwk, private_jwe, created, activates_at)
        self.rows.append(row)
        return row

    async def retire(self, kid: str, at: datetime | None = None) -> bool:
        for row in self.rows:
            if row.kid == kid and row.retired_at is None:
                row.retired_at = at or utcnow()
                return True
        return False
