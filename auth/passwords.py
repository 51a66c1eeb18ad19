"""Password hashing: bcrypt off the event loop, with bounded concurrency.

bcrypt reads at most 72 bytes and refuses longer input, so every password is first
normalised (NFKC, as at check time) and pre-hashed: base64(HMAC-SHA256(domain key,
password)). The 44-byte result carries the whole password into bcrypt and contains no
NUL byte. The HMAC key is a fixed domain-separation constant rather than `SECRET_KEY`,
so rotating `SECRET_KEY` never invalidates stored password hashes.

Everything that costs time runs in the hasher's worker threads, never on the event loop:
normalisation, pre-hash, bcrypt and the one dummy hash. Input is bounded before any of
it (`PASSWORD_INPUT_MAX` characters as typed, `PASSWORD_MAX` once normalised).

Every check against a stored hash costs the work of one check at today's cost: a hash
made at a lower cost gets the missing work added (Django's `harden_runtime`), and an
unreadable one costs a dummy check, so the time of a failed login does not tell whether
the account exists, whatever cost its hash was made with. A hash made at a *higher* cost
than today's (the cost was lowered) cannot be made cheaper: such accounts answer more
slowly than unknown ones until their next successful sign-in re-hashes them.
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
_DUMMY_PASSWORD = b"gatehouse/dummy-password"

PASSWORD_MAX = 256  # characters, counted after normalisation (the contract's maximum)
# Characters as typed, checked before any work. Room for any normal form a client may send
# of a PASSWORD_MAX password (NFD is at most 4 times as long as NFC), and no more: NFKC
# grows a string up to 18 times, and a longer input could only be refused after the work.
PASSWORD_INPUT_MAX = 4 * PASSWORD_MAX


def normalise_password(password: str) -> str:
    """The one normalisation applied at set and at check (NIST SP 800-63B: NFKC)."""
    return unicodedata.normalize("NFKC", password)


# The stored hash of an account without a password (one made through another OpenID
# provider): no bcrypt hash, so every check against it fails, at the cost of a dummy check.
NO_PASSWORD_HASH = ""


def has_password(password_hash: str) -> bool:
    """Whether a stored hash stands for a password at all (`NO_PASSWORD_HASH` does not)."""
    return password_hash != NO_PASSWORD_HASH


def password_too_long(password: str) -> bool:
    """True when `password` is longer than any password can be as typed: refuse it unread."""
    return len(password) > PASSWORD_INPUT_MAX


def _bcrypt_input(password: str) -> bytes | None:
    """The pre-hashed password bcrypt gets, or `None` when it is over the maximum.

    Costly on long input: call it in a worker thread.
    """
    if password_too_long(password):
        return None
    normalised = normalise_password(password)
    if len(normalised) > PASSWORD_MAX:
        return None
    mac = hmac.new(_PREHASH_KEY, normalised.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return base64.b64encode(mac.digest())


def stored_cost(password_hash: str | bytes) -> int | None:
    """The cost factor of a bcrypt hash, or `None` when it is not one."""
    text = password_hash.decode("ascii", "replace") if isinstance(password_hash, bytes) else password_hash
    parts = text.split("$")
    if len(parts) < 4 or parts[1] not in ("2a", "2b", "2y") or not parts[2].isdigit():
        return None
    return int(parts[2])


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
        self._dummy_lock = threading.Lock()

    async def _run(self, func, *args):  # type: ignore[no-untyped-def]
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)

    # -- in the worker threads --------------------------------------------------------

    def _dummy(self) -> bytes:
        """The hash unknown users are checked against, made once per process in the pool
        (about 240 ms at cost 12), by whichever check needs it first; the others wait."""
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = bcrypt.hashpw(_DUMMY_PASSWORD, bcrypt.gensalt(rounds=self.rounds))
            return self._dummy_hash

    def _hash_now(self, password: str) -> str:
        secret = _bcrypt_input(password)
        if secret is None:
            raise ValueError("the password is over the maximum length")
        return bcrypt.hashpw(secret, bcrypt.gensalt(rounds=self.rounds)).decode()

    def _check_now(self, password: str, password_hash: bytes) -> bool:
        secret = _bcrypt_input(password)
        if secret is None:
            return False  # matches no stored hash; refused without bcrypt for every account alike
        cost = stored_cost(password_hash)
        try:
            if cost is None:
                raise ValueError("not a bcrypt hash")
            matched = bool(bcrypt.checkpw(secret, password_hash))
        except ValueError:
            bcrypt.checkpw(secret, self._dummy())  # as dear as a readable hash would be
            return False
        # A cheaper hash gets the missing work: one check at the stored cost is 2**cost
        # units, so 2**(rounds - cost) of them make one check at today's cost.
        salt = password_hash[:29]
        for _ in range(2 ** (self.rounds - cost) - 1 if cost < self.rounds else 0):
            bcrypt.hashpw(secret, salt)
        return matched

    def _check_dummy_now(self, password: str) -> None:
        secret = _bcrypt_input(password)
        if secret is not None:
            bcrypt.checkpw(secret, self._dummy())

    # -- on the event loop ------------------------------------------------------------

    async def hash(self, password: str) -> str:
        """A new bcrypt hash of `password` (`ValueError` when it is over the maximum)."""
        if password_too_long(password):
            raise ValueError("the password is over the maximum length")
        hashed: str = await self._run(self._hash_now, password)
        return hashed

    async def verify(self, password: str, password_hash: str) -> bool:
        """Whether `password` matches `password_hash`; malformed hashes never match.

        Costs one check at today's cost whatever the stored hash (see the module's
        docstring), except for a password over the maximum, which is refused unhashed.
        """
        if password_too_long(password):
            return False
        return bool(await self._run(self._check_now, password, password_hash.encode("ascii", "replace")))

    async def verify_dummy(self, password: str) -> None:
        """Spend one bcrypt check, so an unknown user costs what a wrong password costs."""
        if not password_too_long(password):
            await self._run(self._check_dummy_now, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the stored hash is not a `$2b$` hash at the configured cost (lower or higher)."""
        return not password_hash.startswith("$2b$") or stored_cost(password_hash) != self.rounds
