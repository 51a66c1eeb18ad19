"""`/.well-known/jwks.json` and `/.well-known/openid-configuration` (contract section 9).

The JWKS holds the public parts of the live signing keys only (kid, kty, crv, x, y, alg,
use): every live key in the database, keys not signing yet included, read through the key
ring (`published_jwks`: at most one query every `auth.keyring.PUBLISHED_SET_TTL` seconds,
shared by concurrent requests), so a rotation is published by every instance before any
instance signs with the new key, and a retired key leaves it within those seconds. Under
`JWT_ALGORITHM=HS256` the set is empty
(`{"keys": []}`, still 200): the HMAC key is never published, so nothing but Gatehouse
can verify those tokens, and a verifier pointed at the set finds no key rather than an
error page.

The discovery document's URLs are absolute: under `JWT_ISSUER` when that is an http(s)
URL (the issuer a verifier trusts is the base of every address it is given), else under
the address the request came to (its scheme and `Host`, which HostCheck has already
matched against ALLOWED_HOSTS and TRUSTED_PROXIES' forwarded scheme).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth.keyring import KeyRing
from auth.strategy.jwt import HASURA_CLAIMS
from core.settings import Settings

CACHE_CONTROL = "public, max-age=300"  # 5 minutes: a rotation reaches verifiers soon enough
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
INTROSPECTION_PATH = "/oauth/introspect"
JWKS_MEDIA_TYPE = "application/jwk-set+json"
PUBLISHED_CLAIMS = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "jti",
    "typ",
    "sid",
    "roles",
    "scope",
    "auth_time",
    "amr",
)


def _base_url(settings: Settings, request: Request) -> str:
    if settings.jwt_issuer.startswith(("https://", "http://")):
        return settings.jwt_issuer.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def wellknown_routes(settings: Settings, keyring: KeyRing) -> list[Route]:
    """The two routes, reading `keyring` at each request."""

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(
            await keyring.published_jwks(),
            headers={"Cache-Control": CACHE_CONTROL},
            media_type=JWKS_MEDIA_TYPE,
        )

    async def discovery(request: Request) -> JSONResponse:
        base = _base_url(settings, request)
        document = {
            "issuer": settings.jwt_issuer,
            "jwks_uri": base + JWKS_PATH,
            "introspection_endpoint": base + INTROSPECTION_PATH,
            "id_token_signing_alg_values_supported": [settings.jwt_algorithm],
            "access_token_signing_alg_values_supported": [settings.jwt_algorithm],
            "subject_types_supported": ["public"],
            "claims_supported": [*PUBLISHED_CLAIMS, *([HASURA_CLAIMS] if settings.hasura_claims else [])],
        }
        return JSONResponse(document, headers={"Cache-Control": CACHE_CONTROL})

    return [
        Route(JWKS_PATH, jwks, methods=["GET"]),
        Route(DISCOVERY_PATH, discovery, methods=["GET"]),
    ]
