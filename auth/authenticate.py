"""The one function that turns a request into an `Identity`.

Header credentials that are present but wrong stop the request (`CredentialRejected`,
answered with 401 and a challenge). A stale session cookie never blocks: the request
goes on as anonymous and the response clears the cookie.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from auth.backend import AuthBackend
from auth.errors import CredentialRejected
from auth.identity import ANONYMOUS, Identity, Scheme
from auth.strategy.api_token import looks_like_api_token
from auth.strategy.jwt import InvalidAccessToken
from auth.transport.cookie import read_session_cookie
from auth.transport.header import HeaderCredential, read_authorization
from core.client import ClientInfo
from models import Credential, User

_SCHEME_SETTING = {
    Scheme.SESSION: "session",
    Scheme.JWT: "jwt",
    Scheme.TOKEN: "token",
    Scheme.BASIC: "basic",
}


@dataclass(frozen=True)
class Resolution:
    """The identity of a request, and whether its session cookie must be cleared."""

    identity: Identity
    clear_cookie: bool = False


def _identity_from(credential: Credential, scheme: Scheme, presented_as: str) -> Identity:
    user: User = credential.user
    scopes = frozenset(credential.scopes) if scheme is Scheme.TOKEN else None
    return Identity(
        user=user,
        roles=frozenset(user.roles),
        scopes=scopes,
        scheme=scheme,
        credential_id=str(credential.id),
        presented_as=presented_as,
    )


def _require_enabled(backend: AuthBackend, scheme: Scheme, presented_as: str) -> None:
    if _SCHEME_SETTING[scheme] not in backend.settings.auth_schemes:
        raise CredentialRejected(
            f"The {_SCHEME_SETTING[scheme]} authentication scheme is disabled on this server.",
            presented_as,
        )


async def _from_header(credential: HeaderCredential, backend: AuthBackend, client: ClientInfo) -> Identity:
    if credential.scheme == "Basic":
        _require_enabled(backend, Scheme.BASIC, "Basic")
        if backend.settings.production and not client.is_https:
            raise CredentialRejected("HTTPS is required for Basic authentication.", "Basic")
        user = await backend.basic.authenticate(credential.value, client.ip)
        if user is None:
            raise CredentialRejected("Invalid login or password.", "Basic")
        return Identity(user=user, roles=frozenset(user.roles), scheme=Scheme.BASIC, presented_as="Basic")
    if credential.scheme == "Token" or looks_like_api_token(credential.value):
        _require_enabled(backend, Scheme.TOKEN, credential.scheme)
        row = await backend.api_tokens.read(credential.value)
        if row is None:
            raise CredentialRejected("Invalid, expired or revoked API token.", credential.scheme)
        return _identity_from(row, Scheme.TOKEN, credential.scheme)
    _require_enabled(backend, Scheme.JWT, "Bearer")
    try:
        claims = backend.jwt.verify(credential.value)
    except InvalidAccessToken:
        raise CredentialRejected("Invalid or expired access token.", "Bearer") from None
    family = await backend.refresh.read_family(claims.family_id)
    if family is None or str(family.user_id) != claims.user_id:
        raise CredentialRejected("Invalid or expired access token.", "Bearer")
    return _identity_from(family, Scheme.JWT, "Bearer")


async def resolve_identity(conn: HTTPConnection, backend: AuthBackend, client: ClientInfo) -> Resolution:
    """Who is calling: from the Authorization header if present (it wins), else the cookie."""
    header = read_authorization(conn.headers.get("authorization"))
    if header is not None:
        return Resolution(await _from_header(header, backend, client))
    session_id = read_session_cookie(conn, backend.settings)
    if session_id is None:
        return Resolution(ANONYMOUS)
    if "session" not in backend.settings.auth_schemes:
        return Resolution(ANONYMOUS, clear_cookie=True)
    row = await backend.sessions.read(session_id)
    if row is None:
        return Resolution(ANONYMOUS, clear_cookie=True)
    return Resolution(_identity_from(row, Scheme.SESSION, "cookie"))
