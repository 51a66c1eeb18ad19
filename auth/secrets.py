"""Random secrets and their digests. Only digests are ever stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

API_TOKEN_PREFIX = "gth_"  # recognisable by secret scanners
REFRESH_TOKEN_PREFIX = "gtr_"
_RANDOM_PART = r"[A-Za-z0-9_-]{43}"  # 32 random bytes, base64url without padding
API_TOKEN_PATTERN = re.compile(rf"^{API_TOKEN_PREFIX}{_RANDOM_PART}$")
REFRESH_TOKEN_PATTERN = re.compile(rf"^{REFRESH_TOKEN_PREFIX}{_RANDOM_PART}$")
SESSION_ID_PATTERN = re.compile(rf"^{_RANDOM_PART}$")


def new_secret(prefix: str = "") -> str:
    """256 random bits, base64url, behind `prefix`."""
    return prefix + secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """SHA-256 hex digest of a high-entropy secret (no salt needed at 256 bits)."""
    return hashlib.sha256(value.encode()).hexdigest()


def derive_key(secret: str, purpose: str) -> bytes:
    """A sub-key of `secret` for one purpose, so one key never serves two uses."""
    return hmac.new(secret.encode(), f"gatehouse/{purpose}".encode(), hashlib.sha256).digest()


def keyed_digest(key: bytes, value: str) -> str:
    """HMAC-SHA256 hex digest, for cache keys derived from credentials."""
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
