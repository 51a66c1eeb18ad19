"""Short-lived HS256 access tokens, tied to a refresh-token family.

Keys rotate: the newest key signs and names itself in the `kid` header; every
configured key verifies. Revocation is immediate because each access token names its
family (`sid`), and the family row is read together with the user on every request.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import jwt

from auth.secrets import derive_key
from core.clock import utcnow
from core.settings import Settings

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
MAX_TOKEN_BYTES = 8 * 1024  # refused before parsing
LEEWAY = timedelta(seconds=10)  # clock skew allowed between instances
VERIFIED_CACHE_SIZE = 10_000  # verified token strings remembered until they expire
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud", "typ", "sid"]


class InvalidAccessToken(Exception):
    """The token is malformed, badly signed, expired or not an access token."""


@dataclass(frozen=True)
class AccessClaims:
    """The verified claims the server relies on; `claims` is the whole verified payload
    (read-only), which introspection (web/introspect.py) answers with."""

    user_id: str
    family_id: str
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False)


class JWTStrategy:
    """Issues and verifies access tokens: the signing half of the bearer strategy
    (`auth.strategy.bearer.BearerStrategy` joins it to the refresh families)."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = settings.access_token_ttl
        keys = [settings.secret_key, *settings.previous_secret_keys]
        derived = [derive_key(k.reveal(), "jwt/v1") for k in keys]
        self._keys = {hashlib.sha256(k).hexdigest()[:16]: k for k in reversed(derived)}
        self._signing_kid = hashlib.sha256(derived[0]).hexdigest()[:16]
        self._verified: OrderedDict[str, tuple[AccessClaims, float]] = OrderedDict()

    def issue(self, user_id: str, family_id: str, not_after: datetime | None = None) -> tuple[str, int]:
        """A new access token for `user_id` in family `family_id`, and its lifetime in seconds.

        `not_after` (the family's absolute end) caps the expiry: no access token outlives
        the family it belongs to.
        """
        now = utcnow()
        expires = now + timedelta(seconds=self.ttl)
        if not_after is not None and not_after < expires:
            expires = max(now, not_after)
        # `exp` is whole seconds (rounded down by PyJWT); the lifetime is counted from it.
        exp = int(expires.timestamp())
        claims = {
            "sub": user_id,
            "sid": family_id,
            "iat": now,
            "exp": exp,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
            "typ": ACCESS_TYPE,
        }
        token = jwt.encode(
            claims,
            self._keys[self._signing_kid],
            algorithm=ALGORITHM,
            headers={"kid": self._signing_kid},
        )
        return token, min(self.ttl, max(0, exp - int(now.timestamp())))

    def verify(self, token: str) -> AccessClaims:
        """Verify signature, algorithm, issuer, audience, expiry and type.

        A token string verified once is remembered until it expires: its signature and
        claims cannot change, and revocation is checked elsewhere on every request (the
        family row, through the identity cache). This halves the cost of a JWT request.
        """
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidAccessToken("token too long")
        remembered = self._verified.get(token)
        if remembered is not None:
            claims_, expires = remembered
            if time.time() < expires + LEEWAY.total_seconds():
                return claims_
            self._verified.pop(token, None)
        verified = self._verify_fully(token)
        self._verified[token] = verified
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return verified[0]

    def _verify_fully(self, token: str) -> tuple[AccessClaims, float]:
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(str(header.get("kid", "")))
            if key is None or header.get("alg") != ALGORITHM:
                raise InvalidAccessToken("unknown key or algorithm")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.InvalidTokenError as exc:
            raise InvalidAccessToken(type(exc).__name__) from None
        if claims.get("typ") != ACCESS_TYPE:
            raise InvalidAccessToken("not an access token")
        if not all(isinstance(claims[name], str) for name in ("sub", "sid", "jti")):
            raise InvalidAccessToken("malformed claims")
        access = AccessClaims(user_id=claims["sub"], family_id=claims["sid"], claims=MappingProxyType(claims))
        return access, float(claims["exp"])
