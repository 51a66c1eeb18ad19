"""Token forging helpers for the JWT attack tests."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import jwt

from auth.secrets import derive_key
from tests.helpers.config import TEST_SECRET


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def server_key(secret: str = TEST_SECRET) -> bytes:
    """The HS256 key the server derives from `secret` for access tokens."""
    return derive_key(secret, "jwt/v1")


def kid_of(key: bytes) -> str:
    """The `kid` the server names `key` by."""
    return hashlib.sha256(key).hexdigest()[:16]


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a token, unverified."""
    return dict(jwt.decode(token, options={"verify_signature": False}))


def header_of(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_header(token))


def sign(claims: dict[str, Any], key: bytes | str, algorithm: str = "HS256", kid: str | None = None) -> str:
    """A correctly signed token (for whatever key is given)."""
    headers = {"kid": kid if kid is not None else kid_of(server_key())}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def raw_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand: any header, any signature."""
    encode = lambda value: b64(json.dumps(value, separators=(",", ":")).encode())  # noqa: E731
    return f"{encode(header)}.{encode(claims)}.{b64(signature)}"
