"""Password hashing: bcrypt off the event loop, with bounded concurrency.

bcrypt reads at most 72 bytes and refuses longer input, so every password is first
normalised (NFKC, as at check time) and pre-hashed: base64(HMAC-SHA256(domain key,
password)). The 44-byte result carries the whole password into bcrypt and contains no
NUL byte. The HMAC key is a fixed domain-separation constant rather than `SECRET_KEY`,
so rotating `SECRET_KEY` never invalidates stored password hashes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import bcrypt

_PREHASH_KEY = b"gatehouse/password-prehash/v1"


def normalise_password(password: str) -> str:
    """The one normalisation applied at set and at check (NIST SP 800-63B: NFKC)."""
    return unicodedata.normalize("NFKC", password)


def _prehash(password: str) -> bytes:
    mac = hmac.new(
        _PREHASH_KEY, normalise_password(password).encode("utf-8", "surrogatepass"), hashlib.sha256
    )
    return base64.b64encode(mac.digest())


class PasswordHasher(Protocol):
    """What the services need from a hasher; tests may inject their own."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> bool: ...

    async def verify_dummy(self, password: str) -> None: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


# bcrypt threads yield the CPU to the event loop when both want it. At nice 10 a hashing
# thread still delayed the loop by a few milliseconds (p99 3.5x idle while logins ran, see
# bench/RESULTS.md); at 19 (weight 15 against the loop's 1024) the loop is barely touched.
# A loop that is busy without pause leaves logins about 1.5% of its core: give a busy
# server more cores than workers, and bcrypt takes the spare ones.
HASHER_NICENESS = 19


def _lower_thread_priority() -> None:
    """Make the calling worker thread nicer than the event loop (Linux schedules threads)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHER_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        pass


class BcryptHasher:
    """bcrypt at a fixed cost, in a small pool of low-priority threads (bcrypt releases the GIL).

    At most `concurrency` checks run at once (more would only queue behind the cores),
    and their threads run at a lower priority than the event loop, so requests that need
    no password stay fast while logins are busy; idle cores still go to bcrypt.
    """

    def __init__(self, rounds: int = 12, concurrency: int = 2) -> None:
        self.rounds = rounds
        self._slots = asyncio.Semaphore(concurrency)
        self._pool = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="bcrypt", initializer=_lower_thread_priority
        )
        self._dummy_hash: bytes | None = None

    async def _run(self, func, *args):  # type: ignore[no-untyped-def]
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)

    async def hash(self, password: str) -> str:
        """A new bcrypt hash of `password`."""
        salt = bcrypt.gensalt(rounds=self.rounds)
        hashed: bytes = await self._run(bcrypt.hashpw, _prehash(password), salt)
        return hashed.decode()

    async def verify(self, password: str, password_hash: str) -> bool:
        """Whether `password` matches `password_hash`; malformed hashes never match."""
        try:
            return bool(await self._run(bcrypt.checkpw, _prehash(password), password_hash.encode()))
        except ValueError:
            return False

    async def verify_dummy(self, password: str) -> None:
        """Spend one bcrypt check, so an unknown user costs what a wrong password costs."""
        if self._dummy_hash is None:
            self._dummy_hash = bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(rounds=self.rounds))
        await self._run(bcrypt.checkpw, _prehash(password), self._dummy_hash)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the stored hash used another cost factor than the configured one."""
        try:
            return int(password_hash.split("$")[2]) != self.rounds
        except (IndexError, ValueError):
            return True
