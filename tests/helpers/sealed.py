"""Hand-made JWEs for the encrypted-access-token tests (ACCESS_TOKEN_ENCRYPTION).

joserfc makes every token here, with a registry that allows what the server must refuse
(`zip`, other algorithms); the tests only cut and change segments.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from joserfc import jwe
from joserfc.jwk import OctKey

from auth.secrets import derive_key
from auth.token_encryption import EncryptedTokens
from tests.helpers.config import TEST_SECRET


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def content_key_bytes(secret: str = TEST_SECRET) -> bytes:
    """The 256-bit key the server seals with, derived as auth/token_encryption.py documents."""
    return derive_key(secret, "jwe/v1")


def content_key(secret: str = TEST_SECRET) -> OctKey:
    return OctKey.import_key(content_key_bytes(secret))


def jwe_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWE, unverified."""
    return dict(json.loads(unb64(token.split(".")[0])))


def inner_jws(token: str, secret: str = TEST_SECRET) -> str:
    """The signed JWT inside a token the server sealed under `secret`."""
    return EncryptedTokens([secret]).open(token)


def seal_with(header: dict[str, Any], plaintext: bytes, algorithms: list[str], key: OctKey) -> str:
    """A compact JWE made by joserfc, allowed `algorithms` whatever the server allows."""
    return jwe.encrypt_compact(header, plaintext, key, registry=jwe.JWERegistry(algorithms=algorithms))


def replace_segment(token: str, index: int, value: str) -> str:
    segments = token.split(".")
    segments[index] = value
    return ".".join(segments)


def flip_first_byte(segment: str) -> str:
    """The base64url segment with one bit of its first byte changed."""
    raw = bytearray(unb64(segment))
    raw[0] ^= 0x01
    return b64(bytes(raw))
