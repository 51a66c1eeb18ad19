"""The keys access tokens are signed and verified with (`JWT_ALGORITHM`, contract section 9).

- `HS256`: HMAC keys derived from `SECRET_KEY` (signs) and `PREVIOUS_SECRET_KEYS` (verify);
  nothing is published. `StaticKeyRing`.
- `EdDSA` (Ed25519) and `ES256` (P-256): key pairs kept in the database
  (`SigningKeyStore`, `services/signing_keys.py`), the private part as a compact JWE
  (`dir`, `A256GCM`, joserfc) under a key derived from `SECRET_KEY`, the public part as a
  JWK published at `/.well-known/jwks.json`. Every live key that parses verifies; the
  newest live key whose time to sign has come signs (the newest such that decrypts, when
  a newer one does not; none when no key does). `StoredKeyRing` reloads the rows every
  `JWT_KEYS_RELOAD_INTERVAL` seconds in a background task (never on a request), and once
  more, rate-limited, when a token names a kid it does not know yet, so a token signed by
  another instance just after a rotation verifies here too.

Publication comes first. The JWKS of every instance is read from the database
(`published_jwks`, cached `PUBLISHED_SET_TTL` seconds), not from the ring, so a key added
by `rotate-keys` is published everywhere within that time, whatever each ring has loaded;
and a key signs only from `PUBLICATION_LEAD` seconds after it was added (later with
`rotate-keys --activate-after`, its `activates_at`). So no instance signs with a key
some instance does not publish yet, and a verifier that fetches the set again for an
unknown kid finds it wherever its request lands. Only when no live key's time has come
(the first key of a database, or every older key unreadable here) does the one whose time
comes first sign at once: there is nothing else to sign with.

Every key carries its one algorithm: a token verifies only under the algorithm of the key
its `kid` names, so an HS256 token never meets a public key and an EdDSA token never
meets an HMAC key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OctKey, OKPKey

from auth.secrets import derive_key
from core.clock import as_utc
from core.settings import Secret, Settings

logger = logging.getLogger("gatehouse.keyring")

HMAC_ALGORITHM = "HS256"
# The key types each asymmetric algorithm signs with (RFC 8037, RFC 7518).
ASYMMETRIC_CURVES = {"EdDSA": ("OKP", "Ed25519"), "ES256": ("EC", "P-256")}
# The encryption of private keys at rest: direct use of a 256-bit key derived from
# SECRET_KEY, AES-256-GCM (authenticated; the protected header, kid included, is bound).
PRIVATE_KEY_ENCRYPTION = {"alg": "dir", "enc": "A256GCM"}
_WRAPPING_PURPOSE = "signing-keys/v1"
# A token naming an unknown kid reloads the ring at most this often (seconds, on the
# monotonic clock), so random kids cannot turn into database queries.
UNKNOWN_KID_RELOAD_GAP = 5.0
# The published JWK Set is read from the database at most this often (seconds, monotonic;
# concurrent requests share one read), so a JWKS request costs no query.
PUBLISHED_SET_TTL = 2.0
# A new key signs no sooner than this many seconds after it was added: every instance's
# published set (at most PUBLISHED_SET_TTL old, counted from the start of its read) holds
# it by then, with room for the read's own time and small clock differences between the
# machines (the lead is counted on the instances' wall clocks from the row's created_at).
PUBLICATION_LEAD = 5.0


class KeyRingNotReady(RuntimeError):
    """The ring has no signing key yet (`start()` was not awaited)."""


class NoUsableSigningKey(KeyRingNotReady):
    """Live keys exist but none can sign here: no private part decrypts under `SECRET_KEY`
    or `PREVIOUS_SECRET_KEYS`. Issuing refuses (the error exit answers
    INTERNAL_SERVER_ERROR) rather than sign with a key the database no longer holds."""


class SigningKeyUnknown(ValueError):
    """`rotate-keys --retire` named no live key, or the key that signs now."""


class RetireLeavesNoSigner(SigningKeyUnknown):
    """`rotate-keys --retire` would leave no live key that its `SECRET_KEY` (or
    `PREVIOUS_SECRET_KEYS`) decrypts: the instances would have nothing to sign with."""


class ForeignSecretKey(ValueError):
    """`rotate-keys` runs under a `SECRET_KEY` that opens none of the live keys: the key it
    would add could not be decrypted by the instances that sign now."""


@dataclass(frozen=True)
class VerifyingKey:
    """A key tokens verify under: its kid, its one algorithm, the key PyJWT takes, and
    the public JWK to publish (None for HMAC keys, which are never published)."""

    kid: str
    algorithm: str
    key: Any
    public_jwk: dict[str, Any] | None = None


@dataclass(frozen=True)
class Signer:
    """The key that signs now."""

    kid: str
    algorithm: str
    key: Any

    def __repr__(self) -> str:
        return f"Signer(kid={self.kid!r}, algorithm={self.algorithm!r})"


class StoredKey(Protocol):
    """A row of `signing_keys`, as the store hands it back."""

    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    private_jwe: str
    created_at: datetime
    activates_at: datetime | None  # `rotate-keys --activate-after`: signs from then on


class SigningKeyStore(Protocol):
    """Signing-key rows (`services/signing_keys.py` `SigningKeyRows`)."""

    async def live(self, algorithm: str) -> Sequence[Any]:
        """The keys of `algorithm` not retired (`StoredKey`s), oldest first."""
        ...

    async def add(
        self,
        kid: str,
        algorithm: str,
        public_jwk: dict[str, Any],
        private_jwe: str,
        activates_at: datetime | None = None,
    ) -> Any:
        """Store a new key (it becomes the newest); it signs from `activates_at` when given."""
        ...

    async def retire(self, kid: str, at: datetime | None = None) -> bool:
        """End the key `kid`; False when no live key has it."""
        ...


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key pair, ready to store: the private part already encrypted."""

    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    private_jwe: str


def _wrapping_key(secret: Secret) -> OctKey:
    return OctKey.import_key(derive_key(secret.reveal(), _WRAPPING_PURPOSE))


def generate_key(algorithm: str, secret: Secret) -> NewKey:
    """A new key pair for `algorithm` (EdDSA or ES256), its kid the RFC 7638 thumbprint of
    the public JWK, its private JWK encrypted under `secret`. CPU work: call it in a thread."""
    kty, curve = ASYMMETRIC_CURVES[algorithm]
    pair: OKPKey | ECKey = (
        OKPKey.generate_key("Ed25519") if kty == "OKP" else ECKey.generate_key(curve)  # type: ignore[arg-type]
    )
    kid = pair.thumbprint()
    public = {**pair.as_dict(private=False), "kid": kid, "alg": algorithm, "use": "sig"}
    private = json.dumps(pair.as_dict(private=True))
    header = {**PRIVATE_KEY_ENCRYPTION, "kid": kid}
    return NewKey(kid, algorithm, public, jwe.encrypt_compact(header, private, _wrapping_key(secret)))


def decrypt_private_key(row: StoredKey, secret: Secret, previous: Sequence[Secret] = ()) -> Any:
    """The private key object of `row` (for PyJWT), decrypted with `secret` or, after a
    SECRET_KEY rotation, one of the `previous` keys (PREVIOUS_SECRET_KEYS); a ciphertext
    made for another kid, or under none of them, is refused (`ValueError`)."""
    for candidate in (secret, *previous):
        try:
            message = jwe.decrypt_compact(row.private_jwe, _wrapping_key(candidate))
            break
        except JoseError:
            continue
    else:
        raise ValueError(
            f"signing key {row.kid} cannot be decrypted: it was stored under another SECRET_KEY "
            "(put that one in PREVIOUS_SECRET_KEYS, or run `python main.py rotate-keys`)"
        )
    if message.protected.get("kid") != row.kid or message.plaintext is None:
        raise ValueError(f"signing key {row.kid} holds another key's private part")
    jwk = json.loads(message.plaintext)
    imported = OKPKey.import_key(jwk) if jwk.get("kty") == "OKP" else ECKey.import_key(jwk)
    return imported.private_key


def verifying_key(row: StoredKey) -> VerifyingKey:
    """The public key of `row` for PyJWT, and the JWK to publish (its public members only)."""
    jwk = dict(row.public_jwk)
    kty, curve = ASYMMETRIC_CURVES[row.algorithm]
    if jwk.get("kty") != kty or jwk.get("crv") != curve or jwk.get("kid") != row.kid:
        raise ValueError(f"signing key {row.kid} has a public JWK of another type")
    imported = OKPKey.import_key(jwk) if kty == "OKP" else ECKey.import_key(jwk)
    public: dict[str, Any] = {name: jwk[name] for name in ("kty", "crv", "x", "y") if name in jwk}
    published = {**public, "kid": row.kid, "alg": row.algorithm, "use": "sig"}
    return VerifyingKey(row.kid, row.algorithm, imported.public_key, published)


def signs_from(row: StoredKey) -> float:
    """When (a POSIX timestamp) `row` may begin to sign: `PUBLICATION_LEAD` seconds after
    it was added, or at its `activates_at` when that is later."""
    start = as_utc(row.created_at).timestamp() + PUBLICATION_LEAD
    activates_at = getattr(row, "activates_at", None)  # None too on rows made before 0006
    return start if activates_at is None else max(start, as_utc(activates_at).timestamp())


def signing_row_at(rows: Sequence[Any], now: float) -> Any | None:
    """The row of `rows` (live keys of one algorithm) that signs at `now` when every row
    is readable: the newest whose time has come, else (none has) the one whose time
    comes first. None for no rows."""
    return _choose(_newest_first(rows), now, signs_from)


def _choose(newest_first: Sequence[Any], now: float, start_of: Callable[[Any], float]) -> Any | None:
    """The first of `newest_first` whose start (`start_of`) is not after `now`, else the
    one that starts soonest (None when there is none)."""
    for item in newest_first:
        if start_of(item) <= now:
            return item
    return min(newest_first, key=start_of, default=None)


class KeyRing:
    """The verifying keys by kid and the signer; the base serves a fixed set."""

    def __init__(
        self, algorithm: str, keys: Sequence[VerifyingKey] = (), signer: Signer | None = None
    ) -> None:
        self.algorithm = algorithm
        self._keys = {key.kid: key for key in keys}
        self._signer = signer
        self._unusable: str | None = None  # why no key signs, once loaded rows left none

    @property
    def signer(self) -> Signer:
        """The key that signs now (`NoUsableSigningKey` when no live key decrypts here)."""
        if self._signer is None:
            if self._unusable is not None:
                raise NoUsableSigningKey(self._unusable)
            raise KeyRingNotReady("the signing keys are not loaded: await the key ring's start()")
        return self._signer

    def key_for(self, kid: str) -> VerifyingKey | None:
        """The live key named `kid`, or None."""
        return self._keys.get(kid)

    def knows(self, kid: str) -> bool:
        """Whether `kid` names a live key."""
        return kid in self._keys

    def public_jwks(self) -> dict[str, Any]:
        """The public parts of the asymmetric keys this ring holds (empty for HS256)."""
        return {"keys": [key.public_jwk for key in self._keys.values() if key.public_jwk is not None]}

    async def published_jwks(self) -> dict[str, Any]:
        """The JWK Set `/.well-known/jwks.json` serves (a fixed ring: its own keys)."""
        return self.public_jwks()

    async def reload_for(self, kid: str) -> bool:
        """Try to learn `kid` (a token from another instance); True when it is known now."""
        return self.knows(kid)

    async def start(self) -> None:
        """Load the keys (nothing to do for a fixed ring)."""

    async def stop(self) -> None:
        """Stop background work (none for a fixed ring)."""


class StaticKeyRing(KeyRing):
    """HS256: keys derived from `SECRET_KEY` and `PREVIOUS_SECRET_KEYS`, named by a digest of
    the derived key (never of the secret)."""

    def __init__(self, settings: Settings) -> None:
        secrets = (settings.secret_key, *settings.previous_secret_keys)
        derived = [derive_key(k.reveal(), "jwt/v1") for k in secrets]
        keys = [VerifyingKey(hashlib.sha256(k).hexdigest()[:16], HMAC_ALGORITHM, k) for k in derived]
        super().__init__(HMAC_ALGORITHM, keys, Signer(keys[0].kid, HMAC_ALGORITHM, keys[0].key))


class StoredKeyRing(KeyRing):
    """EdDSA / ES256 keys from the database, reloaded in the background."""

    def __init__(
        self,
        algorithm: str,
        store: SigningKeyStore,
        secret: Secret,
        reload_interval: float,
        clock: Callable[[], float] = time.time,
        previous_secrets: Sequence[Secret] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if algorithm not in ASYMMETRIC_CURVES:
            raise ValueError(f"a stored key ring signs with EdDSA or ES256, not {algorithm}")
        super().__init__(algorithm)
        self.store = store
        self._secret = secret
        self._previous_secrets = tuple(previous_secrets)
        self.reload_interval = reload_interval
        # The wall clock decides when a key may sign (rows carry wall-clock times); the
        # monotonic one measures gaps, which a wall-clock step must not stretch or cut.
        self._clock = clock
        self._monotonic = monotonic
        self._unknown_reload_at = float("-inf")
        self._reloading: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._private: dict[str, Any] = {}  # decrypted private keys by kid, kept across reloads
        self._live_rows = 0  # live rows at the last load, readable or not
        # The keys that may sign, newest first, each with the time it may begin: every
        # live key newer than the newest one that could already sign at the last load,
        # and that one. `signer` picks among them at each call.
        self._candidates: list[tuple[float, Signer]] = []
        self._published: dict[str, Any] | None = None
        self._published_until = float("-inf")
        self._publishing: asyncio.Lock | None = None

    @property
    def signer(self) -> Signer:
        """The key that signs now: the newest loaded key whose time has come, else the one
        whose time comes first (`NoUsableSigningKey` when no live key decrypts here)."""
        chosen = _choose(self._candidates, self._clock(), lambda candidate: candidate[0])
        if chosen is None:
            return super().signer
        return chosen[1]

    async def start(self, *, background: bool = True) -> None:
        """Load the live keys, creating the first one on a database that has none, then
        reload every `reload_interval` seconds in the background (unless `background` is False)."""
        await self.reload()
        if not self._candidates and self._unusable is None:  # no live row at all
            await add_key(self.store, self.algorithm, self._secret)
            await self.reload()
        if self._unusable is not None:  # live keys, none of them ours: refuse to start
            raise NoUsableSigningKey(no_signing_key_refusal(self.algorithm, self._live_rows))
        if background and self._task is None:
            self._task = asyncio.create_task(self._reload_forever(), name="gatehouse-keyring-reload")

    async def stop(self) -> None:
        """End the background reloads."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def reload(self) -> None:
        """Read the live keys and swap them in at once, whatever some rows hold.

        Every live row whose public JWK parses verifies (a bad row is logged by kid and left
        out). The keys that may sign are those whose private part decrypts, from the newest
        down to the newest whose time to sign has come (`signs_from`); a newer key whose
        time has come but which does not decrypt is logged loudly. When none decrypts the
        ring stops signing: a retired key never keeps signing or verifying because a newer
        row is unreadable.
        """
        if self._reloading is None:
            self._reloading = asyncio.Lock()
        async with self._reloading:
            rows = list(await self.store.live(self.algorithm))
            keys, parsed = _parse_rows(rows)
            now = self._clock()
            candidates: list[tuple[float, Signer]] = []
            private_keys: dict[str, Any] = {}
            for row in parsed:  # newest first
                private = await _decrypted(row, self._secret, self._previous_secrets, self._private)
                if private is None:
                    continue
                private_keys[row.kid] = private
                candidates.append((signs_from(row), Signer(row.kid, self.algorithm, private)))
                if candidates[-1][0] <= now:
                    break  # older keys never sign again
            unusable = None
            if candidates:
                intended = signing_row_at(parsed, now)
                chosen = _choose(candidates, now, lambda candidate: candidate[0])
                if intended is not None and chosen is not None and intended.kid != chosen[1].kid:
                    logger.error(
                        "the newest %s signing key %s cannot be decrypted with SECRET_KEY or "
                        "PREVIOUS_SECRET_KEYS: signing with the older key %s (was rotate-keys run "
                        "under another SECRET_KEY?)",
                        self.algorithm, intended.kid, chosen[1].kid,
                    )  # fmt: skip
            elif rows:
                unusable = (
                    f"none of the {len(rows)} live {self.algorithm} signing keys can sign here "
                    "(no readable one decrypts with SECRET_KEY or PREVIOUS_SECRET_KEYS): "
                    "no access token is issued until one does"
                )
                logger.error("%s", unusable)
            self._keys = {key.kid: key for key in keys}
            self._private = private_keys
            self._candidates = candidates
            self._unusable = unusable
            self._live_rows = len(rows)

    async def reload_for(self, kid: str) -> bool:
        """Reload once for an unknown `kid`, at most every `UNKNOWN_KID_RELOAD_GAP` seconds
        (concurrent callers share the reload); True when `kid` is known afterwards."""
        if self.knows(kid):
            return True
        now = self._monotonic()
        if now - self._unknown_reload_at < UNKNOWN_KID_RELOAD_GAP:
            if self._reloading is not None and self._reloading.locked():
                async with self._reloading:  # a reload is under way: its result counts
                    pass
            return self.knows(kid)
        self._unknown_reload_at = now
        await self.reload()
        return self.knows(kid)

    async def published_jwks(self) -> dict[str, Any]:
        """The JWK Set to publish: the public parts of every live key of the algorithm in
        the database, keys not yet signing included, read at most every
        `PUBLISHED_SET_TTL` seconds (concurrent callers share the read). When the read
        fails, the keys this ring holds (logged; tried again after the same time)."""
        if self._published is not None and self._monotonic() < self._published_until:
            return self._published
        if self._publishing is None:
            self._publishing = asyncio.Lock()
        async with self._publishing:
            if self._published is not None and self._monotonic() < self._published_until:
                return self._published  # read by the caller we waited for
            started = self._monotonic()  # a read sees what was committed before it began
            try:
                keys, _ = _parse_rows(list(await self.store.live(self.algorithm)), log=False)
                published = {"keys": [key.public_jwk for key in keys if key.public_jwk is not None]}
            except Exception:  # the database is away: the loaded keys beat an error page
                logger.warning(
                    "reading the signing keys to publish failed; publishing the loaded ones", exc_info=True
                )
                published = self.public_jwks()
            self._published, self._published_until = published, started + PUBLISHED_SET_TTL
            return published

    async def _reload_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reload_interval)
            try:
                await self.reload()
            except Exception:  # keep the keys we have; the next round retries
                logger.warning("reloading the signing keys failed; keeping the loaded ones", exc_info=True)


# What a malformed row or ciphertext raises on the way through joserfc / cryptography.
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, JoseError)


def _newest_first(rows: Sequence[Any]) -> list[Any]:
    return sorted(rows, key=lambda row: (row.created_at, row.kid), reverse=True)


def _parse_rows(rows: Sequence[Any], *, log: bool = True) -> tuple[list[VerifyingKey], list[Any]]:
    """The verifying keys of the rows that parse, and those rows newest first; each row
    that does not is left out and (with `log`) logged by kid, never its content."""
    keys, parsed = [], []
    for row in _newest_first(rows):
        try:
            keys.append(verifying_key(row))
        except _UNREADABLE as exc:
            if log:
                logger.error(
                    "signing key %s has an unreadable public JWK (%s): it neither verifies nor signs",
                    row.kid, type(exc).__name__,
                )  # fmt: skip
            continue
        parsed.append(row)
    return keys, parsed


async def _decrypted(
    row: Any,
    secret: Secret,
    previous: Sequence[Secret],
    known: dict[str, Any] | None = None,
    *,
    log: bool = True,
) -> Any | None:
    """The private key of `row` (`known`: already decrypted ones, by kid), or None when its
    private part does not decrypt under `secret` or `previous` (with `log`: logged by kid)."""
    private = (known or {}).get(row.kid)
    if private is not None:
        return private
    try:  # decryption and key import: off the event loop
        return await asyncio.to_thread(decrypt_private_key, row, secret, previous)
    except _UNREADABLE as exc:
        if log:
            logger.error(
                "signing key %s cannot sign here: its private part does not decrypt (%s)",
                row.kid, type(exc).__name__,
            )  # fmt: skip
        return None


async def signing_row(rows: Sequence[Any], secret: Secret, previous: Sequence[Secret] = ()) -> Any | None:
    """The newest row of `rows` (live keys of one algorithm) a ring holding `secret` and
    `previous` can sign with, whether its time to sign has come or not: its public JWK
    parses and its private part decrypts; None when no row does. Quiet: its callers
    (start-up, `rotate-keys`) say one line themselves."""
    _, parsed = _parse_rows(rows, log=False)
    for row in parsed:
        if await _decrypted(row, secret, previous, log=False) is not None:
            return row
    return None


def _moment(timestamp: float) -> str:
    """A POSIX timestamp as the UTC time an operator reads (to the second)."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def no_signing_key_refusal(algorithm: str, live: int) -> str:
    """Why an instance refuses to start when none of its `live` keys can sign, and what to do."""
    return (
        f"none of the {live} live {algorithm} signing keys can sign here: no private part decrypts "
        "with SECRET_KEY or PREVIOUS_SECRET_KEYS (or the rows are damaged); start with the "
        "SECRET_KEY they were stored under (after a SECRET_KEY rotation, the old one in "
        "PREVIOUS_SECRET_KEYS), or, if that one is lost, add a key under this SECRET_KEY with "
        "`python main.py rotate-keys --despite-unreadable-keys`"
    )


async def startup_refusal(store: SigningKeyStore, settings: Settings) -> str | None:
    """None when this instance can sign with the stored keys of `JWT_ALGORITHM` (or none is
    stored yet: the first start makes one; or HS256, whose keys are settings), else the one
    line that says why it must not start and what to do. Reads only; logs nothing."""
    if settings.jwt_algorithm == HMAC_ALGORITHM:
        return None
    rows = list(await store.live(settings.jwt_algorithm))
    if not rows or await signing_row(rows, settings.secret_key, settings.previous_secret_keys):
        return None
    return no_signing_key_refusal(settings.jwt_algorithm, len(rows))


def build_key_ring(settings: Settings, store: SigningKeyStore | None) -> KeyRing:
    """The ring `JWT_ALGORITHM` asks for: HS256 from the settings, else from `store`."""
    if settings.jwt_algorithm == HMAC_ALGORITHM:
        return StaticKeyRing(settings)
    if store is None:
        raise ValueError(f"JWT_ALGORITHM={settings.jwt_algorithm} needs a signing-key store")
    return StoredKeyRing(
        settings.jwt_algorithm,
        store,
        settings.secret_key,
        settings.jwt_keys_reload_interval,
        previous_secrets=settings.previous_secret_keys,
    )


async def add_key(
    store: SigningKeyStore, algorithm: str, secret: Secret, activates_at: datetime | None = None
) -> str:
    """Generate a key (in a thread) and store it: it is published at once and signs once
    instances reload and its time has come (`signs_from`). Its kid."""
    new = await asyncio.to_thread(generate_key, algorithm, secret)
    await store.add(new.kid, new.algorithm, new.public_jwk, new.private_jwe, activates_at)
    return new.kid


async def rotate_key(
    store: SigningKeyStore,
    algorithm: str,
    secret: Secret,
    previous: Sequence[Secret] = (),
    *,
    despite_unreadable_keys: bool = False,
    activates_at: datetime | None = None,
) -> str:
    """`rotate-keys`: add a key, published at once and signing from `activates_at` when
    given (`--activate-after`), never sooner than `PUBLICATION_LEAD` seconds from now.
    Refused (`ForeignSecretKey`) unless `secret` or `previous` decrypts a live key (one a
    ring with these secrets signs with): a key added under another `SECRET_KEY` would be
    the newest, yet no instance could sign with it. `despite_unreadable_keys`
    (`--despite-unreadable-keys`) adds it anyway, the way out when the `SECRET_KEY` the
    live keys were stored under is lost (or their rows are damaged) and the instances run
    with `secret`. On a database without live keys the first key is added. Its kid."""
    rows = list(await store.live(algorithm))
    if rows and not despite_unreadable_keys:
        if await signing_row(rows, secret, previous) is None:
            raise ForeignSecretKey(
                f"refused: neither this SECRET_KEY nor PREVIOUS_SECRET_KEYS decrypts any of the "
                f"{len(rows)} live {algorithm} signing keys, so the instances could not sign with "
                "a key added here; run rotate-keys with the SECRET_KEY the instances use (if the "
                "one the keys were stored under is lost, add --despite-unreadable-keys)"
            )
    return await add_key(store, algorithm, secret, activates_at)


async def retire_key(
    store: SigningKeyStore,
    algorithm: str,
    kid: str,
    secret: Secret,
    previous: Sequence[Secret] = (),
    *,
    now: float | None = None,
) -> None:
    """End the key `kid`: tokens it signed stop verifying once instances reload.

    Refused (`SigningKeyUnknown`) for a kid that names no live key, for the newest key
    (it signs now, or will once its time comes: rotate first, so that some key always
    signs), and for the key that signs now (`now`, default the clock's) while a newer one
    waits for its time: retire it once that one signs. Refused as well
    (`RetireLeavesNoSigner`) when no other live key parses and decrypts under `secret` or
    `previous`: with the newest unreadable (stored under another `SECRET_KEY`), the older
    key is the one that really signs, and retiring it would leave the instances none.
    """
    rows = list(await store.live(algorithm))
    if not any(row.kid == kid for row in rows):
        raise SigningKeyUnknown(f"no live {algorithm} signing key has kid {kid!r}")
    now = time.time() if now is None else now
    newest = max(rows, key=lambda row: (row.created_at, row.kid))
    current = signing_row_at(rows, now)
    if newest.kid == kid:
        when = "now" if current is newest else f"from {_moment(signs_from(newest))}"
        raise SigningKeyUnknown(
            f"{kid} is the newest key, the key that signs {when}; run `python main.py rotate-keys` "
            "first, then retire it"
        )
    if current is not None and current.kid == kid:
        raise SigningKeyUnknown(
            f"{kid} is the key that signs now, until {newest.kid} signs from "
            f"{_moment(signs_from(newest))}; retire it after that"
        )
    if await signing_row([row for row in rows if row.kid != kid], secret, previous) is None:
        raise RetireLeavesNoSigner(
            f"refused: {kid} is the only live {algorithm} signing key that this SECRET_KEY or "
            "PREVIOUS_SECRET_KEYS decrypts, so the instances would have none to sign with; "
            "run `python main.py rotate-keys` first, then retire it"
        )
    await store.retire(kid)
