"""Encrypted access tokens (`ACCESS_TOKEN_ENCRYPTION=on`): the signed JWT inside a compact JWE.

A sealed token is a nested JWT (RFC 7519 section 5.2): the JWS the JWT strategy signs,
encrypted whole as the JWE's plaintext, with the protected header
`{"alg": "dir", "enc": "A256GCM", "cty": "JWT", "kid": ...}`. Clients see five opaque
base64url segments; only Gatehouse (its request path and `/oauth/introspect`, which
authenticate through the same strategy) can open them.

Why `dir` and not `ECDH-ES`: the party that seals a token and the party that opens it are
the same service holding the same `SECRET_KEY`, so a key pair would add a key to store,
publish nowhere and rotate, and an elliptic-curve agreement per token, and give no reader
elsewhere anything (contract section 9 allows both). The content key is a sub-key of
`SECRET_KEY` under its own label (`jwe/v1`, never the signing key's), named by a `kid`
derived under another label, so rotating `SECRET_KEY` rotates it and tokens sealed under
a key still listed in `PREVIOUS_SECRET_KEYS` keep opening until they expire.

Every cipher operation is joserfc's; this module only decides what it accepts. It refuses,
before decrypting anything: a token over `MAX_SEALED_BYTES`, one that is not five segments
(a bare JWS while encryption is on), a `zip` header (a decompression bomb needs the server
to inflate it; Gatehouse never compresses), an `alg` or `enc` other than `dir` and
`A256GCM`, any other header parameter (`crit`, `jku`, `epk`, ...), an encrypted-key
segment (`dir` has none) and an unknown `kid`; then joserfc's AES-GCM check refuses any
change to the header (the AAD), IV, ciphertext or tag. With encryption off, a five-segment
token is refused as well, so a token is never read in a form the deployment did not choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.util import json_b64decode

from auth.secrets import derive_key
from core.settings import Settings

ALGORITHM = "dir"  # the content key is the shared key itself: no encrypted-key segment
ENCRYPTION = "A256GCM"
CONTENT_TYPE = "JWT"  # nested JWT: the plaintext is a signed JWT
KEY_LABEL = "jwe/v1"
KID_LABEL = "jwe/v1/kid"
# Refused unparsed, like a plain token over auth.strategy.jwt.MAX_TOKEN_BYTES; a sealed
# Gatehouse token is about 4/3 of its JWS plus 90 characters, well under it.
MAX_SEALED_BYTES = 8 * 1024
ALLOWED_HEADER = frozenset(("alg", "enc", "cty", "kid"))
JWE_SEGMENTS = 5
JWS_SEGMENTS = 3
# Only these names: joserfc then refuses every other alg, enc and zip algorithm too.
REGISTRY = jwe.JWERegistry(algorithms=[ALGORITHM, ENCRYPTION])


class UnreadableToken(Exception):
    """The token is not in the form this deployment issues, or does not decrypt."""


class TokenEnvelope(Protocol):
    """What the JWT strategy wraps around the JWS it signs and verifies."""

    def seal(self, jws: str) -> str:
        """The token handed to the client for the signed `jws`."""
        ...

    def open(self, token: str) -> str:
        """The signed JWS inside a client's `token` (`UnreadableToken` when refused)."""
        ...


def looks_encrypted(token: str) -> bool:
    """True for a token in the five-segment JWE compact form."""
    return token.count(".") == JWE_SEGMENTS - 1


class PlainTokens:
    """`ACCESS_TOKEN_ENCRYPTION=off`: the JWS is the token, and a JWE is refused."""

    def seal(self, jws: str) -> str:
        """The JWS itself."""
        return jws

    def open(self, token: str) -> str:
        """The token itself, unless it is a JWE: this deployment never issued it."""
        if looks_encrypted(token):
            raise UnreadableToken("an encrypted token while ACCESS_TOKEN_ENCRYPTION is off")
        return token


class EncryptedTokens:
    """`ACCESS_TOKEN_ENCRYPTION=on`: seals under the current key, opens under any listed key."""

    def __init__(self, secrets: Sequence[str]) -> None:
        """`secrets`: `SECRET_KEY` first (it seals), then `PREVIOUS_SECRET_KEYS` (open only)."""
        if not secrets:
            raise ValueError("at least one secret is needed")
        keys = [(derive_key(s, KID_LABEL).hex()[:16], derive_key(s, KEY_LABEL)) for s in secrets]
        self._keys = {kid: OctKey.import_key(key) for kid, key in reversed(keys)}
        self._sealing_kid = keys[0][0]
        self._header = {"alg": ALGORITHM, "enc": ENCRYPTION, "cty": CONTENT_TYPE, "kid": self._sealing_kid}

    def seal(self, jws: str) -> str:
        """The compact JWE of `jws` under the current key (a fresh random IV each time)."""
        return jwe.encrypt_compact(
            dict(self._header), jws.encode("ascii"), self._keys[self._sealing_kid], registry=REGISTRY
        )

    def open(self, token: str) -> str:
        """The JWS inside `token`, after every check in this module's docstring."""
        if len(token) > MAX_SEALED_BYTES:
            raise UnreadableToken("token too long")
        segments = token.split(".")
        if len(segments) != JWE_SEGMENTS:
            raise UnreadableToken("not an encrypted token (ACCESS_TOKEN_ENCRYPTION is on)")
        key = self._keys[self._checked_kid(_protected_header(segments[0]))]
        if segments[1]:
            raise UnreadableToken("an encrypted key segment, which alg dir never has")
        try:
            plaintext = jwe.decrypt_compact(token, key, registry=REGISTRY).plaintext
        except (JoseError, ValueError) as exc:  # a bad tag is joserfc's DecodeError
            raise UnreadableToken(f"does not decrypt: {type(exc).__name__}") from None
        try:
            jws = (plaintext or b"").decode("ascii")
        except UnicodeDecodeError:
            raise UnreadableToken("the content is not a JWS") from None
        if jws.count(".") != JWS_SEGMENTS - 1:
            raise UnreadableToken("the content is not a JWS")
        return jws

    def _checked_kid(self, header: dict[str, Any]) -> str:
        if "zip" in header:
            raise UnreadableToken("compressed tokens are refused (zip)")
        if header.get("alg") != ALGORITHM or header.get("enc") != ENCRYPTION:
            raise UnreadableToken("an algorithm other than dir with A256GCM")
        unexpected = set(header) - ALLOWED_HEADER
        if unexpected:
            raise UnreadableToken(f"unexpected header parameters {sorted(unexpected)}")
        if header.get("cty") != CONTENT_TYPE:
            raise UnreadableToken("the content type is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in self._keys:
            raise UnreadableToken("unknown key")
        return kid


def _protected_header(segment: str) -> dict[str, Any]:
    try:
        header = json_b64decode(segment.encode("ascii"))
    except ValueError:  # non-ASCII text, bad base64 and bad JSON are all ValueErrors
        raise UnreadableToken("malformed header") from None
    if not isinstance(header, dict):
        raise UnreadableToken("malformed header")
    return header


def token_envelope(settings: Settings) -> TokenEnvelope:
    """The envelope `ACCESS_TOKEN_ENCRYPTION` asks for, keyed from `SECRET_KEY` and
    `PREVIOUS_SECRET_KEYS`."""
    if not settings.access_token_encryption:
        return PlainTokens()
    secrets = [settings.secret_key, *settings.previous_secret_keys]
    return EncryptedTokens([secret.reveal() for secret in secrets])
