"""Short-lived access tokens (JWS: EdDSA, ES256 or HS256), tied to a refresh-token family.

Keys rotate (`auth/keyring.py`): the newest key signs and names itself in the `kid`
header; every live key verifies, each under its own algorithm only. Revocation is
immediate because each access token names its family (`sid`), and the family row is read
together with the user on every request.

Header hardening (docs/SECURITY.md): `alg` must be the algorithm of the key the `kid`
names (`none` never is); a header carrying key material or a key's address (`jku`,
`jwk`, `x5u`, `x5c`) is refused, never fetched; any `crit` is refused (no extension is
understood).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import jwt

from auth.keyring import KeyRing, Signer, build_key_ring
from auth.token_encryption import UnreadableToken, token_envelope
from core.clock import utcnow
from core.settings import Settings

ACCESS_TYPE = "access"
MAX_TOKEN_BYTES = 8 * 1024  # refused before parsing
LEEWAY = timedelta(seconds=10)  # clock skew allowed between instances
VERIFIED_CACHE_SIZE = 10_000  # verified token strings remembered until they expire
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud", "typ", "sid"]
# Header parameters that name or carry a key: a verifier that followed them would let the
# token choose its own key. Refused, never fetched.
KEY_SUPPLYING_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c"})
HASURA_CLAIMS = "https://hasura.io/jwt/claims"


class InvalidAccessToken(Exception):
    """The token is malformed, badly signed, expired or not an access token."""


class UnknownKeyId(InvalidAccessToken):
    """The token names a kid this instance does not know (yet: see `KeyRing.reload_for`)."""

    def __init__(self, kid: str) -> None:
        super().__init__("unknown key")
        self.kid = kid


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

    def __init__(
        self, settings: Settings, keyring: KeyRing | None = None, *, scopes: Collection[str] = ()
    ) -> None:
        """`keyring`: the keys (`auth/keyring.py`); without one, HS256 settings derive theirs
        and EdDSA / ES256 need a ring with a store (`AuthBackend.build` makes it).
        `scopes`: every scope the served schema names (`GatehouseSchema.known_scopes`), the
        `scope` claim of every access token (it carries all of its user's rights)."""
        self.scope = " ".join(sorted(set(scopes)))
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = settings.access_token_ttl
        self.hasura_claims = settings.hasura_claims
        self.keyring = keyring if keyring is not None else build_key_ring(settings, None)
        # ACCESS_TOKEN_ENCRYPTION: the signed token sealed in a JWE, or handed out as is.
        self.envelope = token_envelope(settings)
        # Verified token strings: their claims, expiry and the kid that must still be live.
        self._verified: OrderedDict[str, tuple[AccessClaims, float, str]] = OrderedDict()

    def issue(
        self,
        user_id: str,
        family_id: str,
        not_after: datetime | None = None,
        *,
        roles: Sequence[str] = (),
        auth_time: datetime | None = None,
        amr: Sequence[str] = (),
        signer: Signer | None = None,
    ) -> tuple[str, int]:
        """A new access token for `user_id` in family `family_id`, and its lifetime in seconds.

        `not_after` (the family's absolute end) caps the expiry: no access token outlives
        the family it belongs to. `roles`, `auth_time` and `amr` are the user's roles and
        the family's sign-in, for other services to read (docs/TOKENS.md); Gatehouse itself
        reads roles from the database on every request. `scope` (RFC 8693 / RFC 9068:
        space-separated) names every scope of the served schema: an access token carries
        all of its user's rights, as a session does. `signer`: the key ring's signer,
        taken before the family was written (`BearerStrategy`), else the one of now.
        """
        now = utcnow()
        expires = now + timedelta(seconds=self.ttl)
        if not_after is not None and not_after < expires:
            expires = max(now, not_after)
        # `exp` is whole seconds (rounded down by PyJWT); the lifetime is counted from it.
        exp = int(expires.timestamp())
        claims: dict[str, Any] = {
            "sub": user_id,
            "sid": family_id,
            "iat": now,
            "exp": exp,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
            "typ": ACCESS_TYPE,
            "roles": sorted(set(roles)),
            "scope": self.scope,
            "amr": list(amr),
        }
        if auth_time is not None:
            claims["auth_time"] = int(auth_time.timestamp())
        if self.hasura_claims:
            claims[HASURA_CLAIMS] = hasura_claims(user_id, roles)
        signer = signer if signer is not None else self.keyring.signer
        token = jwt.encode(claims, signer.key, algorithm=signer.algorithm, headers={"kid": signer.kid})
        return self.envelope.seal(token), min(self.ttl, max(0, exp - int(now.timestamp())))

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
            claims_, expires, kid = remembered
            # A retired key's tokens stop verifying even when remembered.
            if time.time() < expires + LEEWAY.total_seconds() and self.keyring.knows(kid):
                return claims_
            self._verified.pop(token, None)
        try:
            # Opened before the signature check; remembered under the string as presented.
            signed = self.envelope.open(token)
        except UnreadableToken as exc:
            raise InvalidAccessToken(str(exc)) from None
        verified = self._verify_fully(signed)
        self._verified[token] = verified
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return verified[0]

    async def verify_or_reload(self, token: str) -> AccessClaims:
        """`verify`, and when the token names a kid not known here yet (another instance
        rotated first), one rate-limited reload of the key ring and a second try."""
        try:
            return self.verify(token)
        except UnknownKeyId as unknown:
            if not await self.keyring.reload_for(unknown.kid):
                raise
        return self.verify(token)

    def _verify_fully(self, token: str) -> tuple[AccessClaims, float, str]:
        try:
            header = jwt.get_unverified_header(token)
            if KEY_SUPPLYING_HEADERS & header.keys() or "crit" in header:
                raise InvalidAccessToken("refused header parameter")
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise InvalidAccessToken("no kid")
            key = self.keyring.key_for(kid)
            if key is None:
                raise UnknownKeyId(kid)
            # The key's own algorithm, and no other: no HS/asymmetric confusion, no `none`.
            if header.get("alg") != key.algorithm:
                raise InvalidAccessToken("algorithm of another key type")
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
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
        return access, float(claims["exp"]), kid


def hasura_claims(user_id: str, roles: Sequence[str]) -> dict[str, Any]:
    """Hasura's claims object (docs/TOKENS.md): every signed-in user has the role `user`;
    an admin's default role is `admin`."""
    allowed = ["user", *sorted(set(roles) - {"user"})]
    return {
        "x-hasura-user-id": user_id,
        "x-hasura-default-role": "admin" if "admin" in roles else "user",
        "x-hasura-allowed-roles": allowed,
    }
