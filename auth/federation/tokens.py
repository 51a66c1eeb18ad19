"""Tokens of other providers, verified: ID tokens (sign-in) and access tokens (trusted issuers).

The signature is checked against the provider's own JWKS (`keys.py`) under an asymmetric
algorithm only: `none` and the HMAC algorithms are refused before any key is looked up
(an HS256 token could be signed with a client secret, or with a public key taken for
an HMAC key), and so is any header that names or carries a key (`jku`, `jwk`, `x5u`,
`x5c`) or a `crit` extension. joserfc verifies the signature; the claims are checked by
authlib's OpenID Connect rules (`CodeIDToken`: `iss`, `aud`, `exp`, `iat`, `nonce`,
`azp`, `at_hash`) and joserfc's claims registry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from auth.federation.keys import RemoteKeySet

# Every asymmetric JWS algorithm (RFC 7518, RFC 8037, RFC 9864); never `none` or HS*.
ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
)  # fmt: skip
MAX_TOKEN_BYTES = 16 * 1024  # refused before parsing
LEEWAY = 60  # seconds of clock skew allowed with a provider
KEY_SUPPLYING_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c"})
SUBJECT_MAX = 255  # models/external_identities.py `subject`


class InvalidProviderToken(Exception):
    """A token that is malformed, badly signed, expired or not meant for us; `reason`
    is for the log, never for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProviderClaims:
    """The verified claims of a provider's token that Gatehouse uses."""

    issuer: str
    subject: str
    expires_at: datetime
    issued_at: datetime | None
    email: str | None = None
    email_verified: bool = False
    preferred_username: str | None = None
    name: str | None = None
    auth_time: datetime | None = None
    nonce: str | None = None
    # The whole verified payload, read-only.
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def allowed_algorithms(advertised: Collection[str] = ()) -> tuple[str, ...]:
    """The algorithms a provider's tokens may use: those it advertises that are
    asymmetric, or every asymmetric one when it advertises none."""
    chosen = tuple(a for a in ASYMMETRIC_ALGORITHMS if a in advertised)
    return chosen or ASYMMETRIC_ALGORITHMS


async def verify_signature(token: str, keys: RemoteKeySet, algorithms: Collection[str]) -> jwt.Token:
    """The token, its signature verified by a key of `keys` under one of `algorithms`
    (asymmetric ones only). An unknown `kid` reads the key set again (rate-limited);
    `KeysUnavailable` when the provider's keys cannot be read at all."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise InvalidProviderToken("token too long")
    allowed = [a for a in algorithms if a in ASYMMETRIC_ALGORITHMS]
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, TypeError, UnicodeEncodeError):
        raise InvalidProviderToken("malformed token") from None
    if KEY_SUPPLYING_HEADERS & header.keys() or "crit" in header:
        raise InvalidProviderToken("refused header parameter")
    if header.get("alg") not in allowed:
        raise InvalidProviderToken(f"algorithm {header.get('alg')!r} is not allowed")
    kid = header.get("kid")
    key_set = await keys.current()
    if kid is not None and not keys.knows(kid):
        refreshed = await keys.refreshed_for(kid)
        if refreshed is None:
            raise InvalidProviderToken("unknown key")
        key_set = refreshed
    registry = JWSRegistry(algorithms=allowed, strict_check_header=False)
    try:
        return jwt.decode(token, key_set, registry=registry)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidProviderToken(type(exc).__name__) from None


def _moment(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def _claims_of(token: jwt.Token) -> ProviderClaims:
    claims = token.claims
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > SUBJECT_MAX:
        raise InvalidProviderToken("unusable sub")
    email = claims.get("email")
    username = claims.get("preferred_username")
    name = claims.get("name")
    nonce = claims.get("nonce")
    expires = _moment(claims.get("exp"))
    assert expires is not None  # required and checked as a number before
    return ProviderClaims(
        issuer=claims["iss"],
        subject=subject,
        expires_at=expires,
        issued_at=_moment(claims.get("iat")),
        email=email if isinstance(email, str) else None,
        # Only the boolean true vouches for the address (some providers send "true").
        email_verified=claims.get("email_verified") is True,
        preferred_username=username if isinstance(username, str) else None,
        name=name if isinstance(name, str) else None,
        auth_time=_moment(claims.get("auth_time")),
        nonce=nonce if isinstance(nonce, str) else None,
        claims=MappingProxyType(dict(claims)),
    )


def check_id_token(
    token: jwt.Token,
    *,
    issuer: str,
    audiences: Collection[str],
    client_id: str,
    nonce: str | None,
    access_token: str | None = None,
    now: float | None = None,
) -> ProviderClaims:
    """The claims of a verified ID token, checked by OpenID Connect Core 3.1.3.7: `iss`
    is `issuer`, `aud` holds one of `audiences`, `azp` (required with several audiences)
    is `client_id`, `exp` and `iat` present and `exp` not passed, `nonce` equal to
    `nonce` when one is expected, `at_hash` matching `access_token` when both are there."""
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "values": list(audiences)},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    params = {"client_id": client_id, "nonce": nonce, "access_token": access_token}
    checked = CodeIDToken(token.claims, token.header, options, params)
    try:
        checked.validate(now=int(now if now is not None else time.time()), leeway=LEEWAY)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidProviderToken(f"{type(exc).__name__}: {exc}") from None
    return _claims_of(token)


def check_access_token(
    token: jwt.Token, *, issuer: str, audience: str, now: float | None = None
) -> ProviderClaims:
    """The claims of a verified access token of a trusted issuer (RFC 9068's claims):
    `iss` is `issuer`, `aud` holds `audience`, `sub`, `exp` and `iat` present and `exp`
    not passed."""
    registry = JWTClaimsRegistry(
        now=int(now if now is not None else time.time()),
        leeway=LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(token.claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidProviderToken(f"{type(exc).__name__}: {exc}") from None
    return _claims_of(token)


def unverified_issuer(token: str) -> str | None:
    """The `iss` a compact JWS names, read without verifying anything (to choose who
    verifies it); `None` when it names none or is not a JWS."""
    try:
        payload = jws.extract_compact(token.encode("ascii")).payload
    except (JoseError, ValueError, TypeError, UnicodeEncodeError):
        return None
    try:
        claims = json.loads(payload)
    except ValueError:
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None
