"""The keys access tokens are signed and verified with (`JWT_ALGORITHM`, contract section 9).

- `HS256`: HMAC keys derived from `SECRET_KEY` (signs) and `PREVIOUS_SECRET_KEYS` (verify);
  nothing is published. `StaticKeyRing`.
- `EdDSA` (Ed25519) and `ES256` (P-256): key pairs kept in the database
  (`SigningKeyStore`, `services/signing_keys.py`), the private part as a compact JWE
  (`dir`, `A256GCM`, joserfc) under a key derived from `SECRET_KEY`, the public part as a
  JWK published at `/.well-known/jwks.json`. The newest live key signs (the newest that
  decrypts, when a newer one does not; none when no key does), every live key that
  parses verifies. `StoredKeyRing` reloads the rows every `JWT_KEYS_RELOAD_INTERVAL` seconds in a
  background task (never on a request), and once more, rate-limited, when a token names a
  kid it does not know yet, so a token signed by another instance just after a rotation
  verifies here too.

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
from datetime import datetime
from typing import Any, Protocol

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OctKey, OKPKey

from auth.secrets import derive_key
from core.settings import Secret, Settings

logger = logging.getLogger("gatehouse.keyring")

HMAC_ALGORITHM = "HS256"
# The key types each asymmetric algorithm signs with (RFC 8037, RFC 7518).
ASYMMETRIC_CURVES = {"EdDSA": ("OKP", "Ed25519"), "ES256": ("EC", "P-256")}
# The encryption of private keys at rest: direct use of a 256-bit key derived from
# SECRET_KEY, AES-256-GCM (authenticated; the protected header, kid included, is bound).
PRIVATE_KEY_ENCRYPTION = {"alg": "dir", "enc": "A256GCM"}
_WRAPPING_PURPOSE = "signing-keys/v1"
# A token naming an unknown kid reloads the ring at most this often (seconds), so random
# kids cannot turn into database queries.
UNKNOWN_KID_RELOAD_GAP = 5.0


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


class SigningKeyStore(Protocol):
    """Signing-key rows (`services/signing_keys.py` `SigningKeyRows`)."""

    async def live(self, algorithm: str) -> Sequence[Any]:
        """The keys of `algorithm` not retired (`StoredKey`s), oldest first."""
        ...

    async def add(self, kid: str, algorithm: str, public_jwk: dict[str, Any], private_jwe: str) -> Any:
        """Store a new key (it becomes the newest)."""
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
        """The JWK Set to publish: public parts of the live asymmetric keys (empty for HS256)."""
        return {"keys": [key.public_jwk for key in self._keys.values() if key.public_jwk is not None]}

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
    ) -> None:
        if algorithm not in ASYMMETRIC_CURVES:
            raise ValueError(f"a stored key ring signs with EdDSA or ES256, not {algorithm}")
        super().__init__(algorithm)
        self.store = store
        self._secret = secret
        self._previous_secrets = tuple(previous_secrets)
        self.reload_interval = reload_interval
        self._clock = clock
        self._loaded_at = float("-inf")
        self._unknown_reload_at = float("-inf")
        self._reloading: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._private: dict[str, Any] = {}  # decrypted private keys by kid, kept across reloads
        self._live_rows = 0  # live rows at the last load, readable or not

    async def start(self, *, background: bool = True) -> None:
        """Load the live keys, creating the first one on a database that has none, then
        reload every `reload_interval` seconds in the background (unless `background` is False)."""
        await self.reload()
        if self._signer is None and self._unusable is None:  # no live row at all
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

    @property
    def stale(self) -> bool:
        """Whether the last load is `reload_interval` seconds old or more."""
        return self._clock() - self._loaded_at >= self.reload_interval

    async def reload_if_stale(self) -> bool:
        """Reload when stale; True when it did."""
        if not self.stale:
            return False
        await self.reload()
        return True

    async def reload(self) -> None:
        """Read the live keys and swap them in at once, whatever some rows hold.

        Every live row whose public JWK parses verifies (a bad row is logged by kid and left
        out); the newest of them whose private part decrypts signs (logged loudly when that
        is not the newest). When none decrypts the ring stops signing: a retired key never
        keeps signing or verifying because a newer row is unreadable.
        """
        if self._reloading is None:
            self._reloading = asyncio.Lock()
        async with self._reloading:
            rows = list(await self.store.live(self.algorithm))
            keys, parsed = _parse_rows(rows)
            chosen = await _newest_decryptable(parsed, self._secret, self._previous_secrets, self._private)
            signer, unusable = None, None
            if chosen is not None:
                row, private = chosen
                self._private = {row.kid: private}
                signer = Signer(row.kid, self.algorithm, private)
                newest = parsed[0]
                if row.kid != newest.kid:
                    logger.error(
                        "the newest %s signing key %s cannot be decrypted with SECRET_KEY or "
                        "PREVIOUS_SECRET_KEYS: signing with the older key %s (was rotate-keys run "
                        "under another SECRET_KEY?)",
                        self.algorithm, newest.kid, row.kid,
                    )  # fmt: skip
            elif rows:
                self._private = {}
                unusable = (
                    f"none of the {len(rows)} live {self.algorithm} signing keys can sign here "
                    "(no readable one decrypts with SECRET_KEY or PREVIOUS_SECRET_KEYS): "
                    "no access token is issued until one does"
                )
                logger.error("%s", unusable)
            self._keys = {key.kid: key for key in keys}
            self._signer = signer
            self._unusable = unusable
            self._live_rows = len(rows)
            self._loaded_at = self._clock()

    async def reload_for(self, kid: str) -> bool:
        """Reload once for an unknown `kid`, at most every `UNKNOWN_KID_RELOAD_GAP` seconds
        (concurrent callers share the reload); True when `kid` is known afterwards."""
        if self.knows(kid):
            return True
        now = self._clock()
        if now - self._unknown_reload_at < UNKNOWN_KID_RELOAD_GAP:
            if self._reloading is not None and self._reloading.locked():
                async with self._reloading:  # a reload is under way: its result counts
                    pass
            return self.knows(kid)
        self._unknown_reload_at = now
        await self.reload()
        return self.knows(kid)

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


async def _newest_decryptable(
    rows_newest_first: Sequence[Any],
    secret: Secret,
    previous: Sequence[Secret],
    decrypted: dict[str, Any] | None = None,
    *,
    log: bool = True,
) -> tuple[Any, Any] | None:
    """The newest row whose private part decrypts under `secret` or `previous`, with its
    private key (`decrypted`: already known ones, by kid); None when none does. Each row
    that does not is (with `log`) logged by kid."""
    for row in rows_newest_first:
        private = (decrypted or {}).get(row.kid)
        if private is None:
            try:  # decryption and key import: off the event loop
                private = await asyncio.to_thread(decrypt_private_key, row, secret, previous)
            except _UNREADABLE as exc:
                if log:
                    logger.error(
                        "signing key %s cannot sign here: its private part does not decrypt (%s)",
                        row.kid, type(exc).__name__,
                    )  # fmt: skip
                continue
        return row, private
    return None


async def signing_row(rows: Sequence[Any], secret: Secret, previous: Sequence[Secret] = ()) -> Any | None:
    """The row of `rows` (live keys of one algorithm) a ring holding `secret` and `previous`
    signs with: the newest whose public JWK parses and whose private part decrypts; None
    when none does. Quiet: its callers (start-up, `rotate-keys`) say one line themselves."""
    _, parsed = _parse_rows(rows, log=False)
    chosen = await _newest_decryptable(parsed, secret, previous, log=False)
    return None if chosen is None else chosen[0]


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


async def add_key(store: SigningKeyStore, algorithm: str, secret: Secret) -> str:
    """Generate a key (in a thread) and store it: it signs from the next reload on. Its kid."""
    new = await asyncio.to_thread(generate_key, algorithm, secret)
    await store.add(new.kid, new.algorithm, new.public_jwk, new.private_jwe)
    return new.kid


async def rotate_key(
    store: SigningKeyStore,
    algorithm: str,
    secret: Secret,
    previous: Sequence[Secret] = (),
    *,
    despite_unreadable_keys: bool = False,
) -> str:
    """`rotate-keys`: add a key, refused (`ForeignSecretKey`) unless `secret` or `previous`
    decrypts the key that signs now (the newest live key a ring with these secrets signs
    with): a key added under another `SECRET_KEY` would be the newest, yet no instance could
    sign with it. `despite_unreadable_keys` (`--despite-unreadable-keys`) adds it anyway, the
    way out when the `SECRET_KEY` the live keys were stored under is lost (or their rows are
    damaged) and the instances run with `secret`. On a database without live keys the first
    key is added. Its kid."""
    rows = list(await store.live(algorithm))
    if rows and not despite_unreadable_keys:
        if await signing_row(rows, secret, previous) is None:
            raise ForeignSecretKey(
                f"refused: neither this SECRET_KEY nor PREVIOUS_SECRET_KEYS decrypts any of the "
                f"{len(rows)} live {algorithm} signing keys, so the instances could not sign with "
                "a key added here; run rotate-keys with the SECRET_KEY the instances use (if the "
                "one the keys were stored under is lost, add --despite-unreadable-keys)"
            )
    return await add_key(store, algorithm, secret)


async def retire_key(
    store: SigningKeyStore, algorithm: str, kid: str, secret: Secret, previous: Sequence[Secret] = ()
) -> None:
    """End the key `kid`: tokens it signed stop verifying once instances reload.

    Refused (`SigningKeyUnknown`) for a kid that names no live key and for the key that
    signs now (the newest): rotate first, so that some key always signs. Refused as well
    (`RetireLeavesNoSigner`) when no other live key parses and decrypts under `secret` or
    `previous`: with the newest unreadable (stored under another `SECRET_KEY`), the older
    key is the one that really signs, and retiring it would leave the instances none.
    """
    rows = list(await store.live(algorithm))
    if not any(row.kid == kid for row in rows):
        raise SigningKeyUnknown(f"no live {algorithm} signing key has kid {kid!r}")
    newest = max(rows, key=lambda row: (row.created_at, row.kid))
    if newest.kid == kid:
        raise SigningKeyUnknown(
            f"{kid} is the key that signs now; run `python main.py rotate-keys` first, then retire it"
        )
    if await signing_row([row for row in rows if row.kid != kid], secret, previous) is None:
        raise RetireLeavesNoSigner(
            f"refused: {kid} is the only live {algorithm} signing key that this SECRET_KEY or "
            "PREVIOUS_SECRET_KEYS decrypts, so the instances would have none to sign with; "
            "run `python main.py rotate-keys` first, then retire it"
        )
    await store.retire(kid)
