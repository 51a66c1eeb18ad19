"""Helpers shared by the strategy tests."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise

from auth.passwords import BcryptHasher, PasswordHasher
from tests.conftest import uses_postgres


class CountingHasher:
    """A real bcrypt hasher that counts how many hash checks it runs."""

    def __init__(self, inner: PasswordHasher | None = None) -> None:
        self.inner = inner or BcryptHasher(rounds=4)
        self.checks = 0  # verify + verify_dummy: each costs one bcrypt check
        self.dummy_checks = 0
        self.hashes = 0

    async def hash(self, password: str) -> str:
        self.hashes += 1
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> bool:
        self.checks += 1
        return await self.inner.verify(password, password_hash)

    async def verify_dummy(self, password: str) -> None:
        self.checks += 1
        self.dummy_checks += 1
        await self.inner.verify_dummy(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.inner.needs_rehash(password_hash)


async def raw_row(table: str, row_id: object) -> dict[str, Any]:
    """A row exactly as stored, read with plain SQL (no model conversion)."""
    placeholder = "$1" if uses_postgres() else "?"
    rows = await Tortoise.get_connection("default").execute_query_dict(
        f"SELECT * FROM {table} WHERE id = {placeholder}", [str(row_id)]
    )
    assert len(rows) == 1, rows
    return rows[0]
