"""A real bcrypt hasher that counts what it is asked to do."""

from __future__ import annotations

from auth.passwords import BcryptHasher, PasswordHasher


class CountingHasher:
    """Real bcrypt (cost 4 by default), counting every operation.

    - `calls`: how often each of `hash`, `verify` and `verify_dummy` ran (never reset);
    - `checks`: password checks of any kind (`verify` + `verify_dummy`, each one bcrypt run),
      and `dummy_checks`: the dummy ones; tests may set both back to 0;
    - `verifications`: real `verify` calls, `hashes`: `hash` calls.
    """

    def __init__(self, rounds: int = 4, inner: PasswordHasher | None = None) -> None:
        self.inner = inner or BcryptHasher(rounds=rounds, concurrency=4)
        self.rounds = rounds
        self.calls: dict[str, int] = {"hash": 0, "verify": 0, "verify_dummy": 0}
        self.checks = 0
        self.dummy_checks = 0

    @property
    def verifications(self) -> int:
        """How often a password was verified against a real hash."""
        return self.calls["verify"]

    @property
    def hashes(self) -> int:
        """How often a password was hashed."""
        return self.calls["hash"]

    async def hash(self, password: str) -> str:
        self.calls["hash"] += 1
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> bool:
        self.calls["verify"] += 1
        self.checks += 1
        return await self.inner.verify(password, password_hash)

    async def verify_dummy(self, password: str) -> None:
        self.calls["verify_dummy"] += 1
        self.checks += 1
        self.dummy_checks += 1
        await self.inner.verify_dummy(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.inner.needs_rehash(password_hash)
