"""Token forging helpers for the JWT attack tests.

`server_signer(app)` is the key the app signs with now, whatever `JWT_ALGORITHM` is, and
`sign_as_server(app, claims)` signs like it; `server_key()` / `kid_of()` are the HS256
derivation alone. `fixed_key_ring(algorithm)` is a ring with one fresh key, for strategy
tests without a database.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import jwt
from starlette.applications import Starlette

from auth.keyring import (
    HMAC_ALGORITHM,
    KeyRing,
    Signer,
    StaticKeyRing,
    decrypt_private_key,
    generate_key,
    verifying_key,
)
from auth.secrets import derive_key
from core.clock import utcnow
from core.settings import Secret
from tests.helpers.config import TEST_SECRET, make_settings


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


def server_signer(app: Starlette) -> Signer:
    """The key `app` signs access tokens with now (its kid, algorithm and private key)."""
    return app.state.backend.keyring.signer


def sign_as_server(app: Starlette, claims: dict[str, Any], **headers: Any) -> str:
    """`claims` signed exactly as `app` signs, with extra header parameters `headers`."""
    signer = server_signer(app)
    return jwt.encode(claims, signer.key, algorithm=signer.algorithm, headers={"kid": signer.kid, **headers})


class _Row:
    def __init__(self, algorithm: str) -> None:
        new = generate_key(algorithm, Secret(TEST_SECRET))
        self.kid, self.algorithm = new.kid, new.algorithm
        self.public_jwk, self.private_jwe = new.public_jwk, new.private_jwe
        self.created_at = utcnow()


def fixed_key_ring(algorithm: str) -> KeyRing:
    """A ring of one fresh key of `algorithm` (HS256: the test SECRET_KEY's), no database."""
    if algorithm == HMAC_ALGORITHM:
        return StaticKeyRing(make_settings(jwt_algorithm=HMAC_ALGORITHM))
    row = _Row(algorithm)
    private = decrypt_private_key(row, Secret(TEST_SECRET))
    return KeyRing(algorithm, [verifying_key(row)], Signer(row.kid, algorithm, private))
