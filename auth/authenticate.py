"""The one function that turns a request into an `Identity`.

Header credentials that are present but wrong stop the request (`CredentialRejected`,
answered with 401 and a challenge). A stale session cookie never blocks: the request
goes on as anonymous and the response clears the cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from auth.backend import AuthBackend
from auth.errors import CredentialRejected
from auth.identity import ANONYMOUS, Identity, Scheme
from auth.secrets import digest, keyed_digest
from auth.strategy.api_token import looks_like_api_token
from auth.strategy.jwt import InvalidAccessToken
from auth.strategy.rows import is_live, touch
from auth.transport.cookie import read_session_cookie
from auth.transport.header import HeaderCredential, read_authorization
from core.client import ClientInfo
from core.clock import utcnow
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


def _require_enabled(backend: AuthBackend, scheme: Scheme, presented_as: str) -> None:
    if _SCHEME_SETTING[scheme] not in backend.settings.auth_schemes:
        raise CredentialRejected(
            f"The {_SCHEME_SETTING[scheme]} authentication scheme is disabled on this server.",
            presented_as,
        )


async def _cached(
    backend: AuthBackend,
    key: str,
    load: Callable[[], Awaitable[Any]],
    is_usable: Callable[[Any], bool],
    owner_of: Callable[[Any], str],
    owner_hint: str | None = None,
) -> Any:
    """`load()`'s row for `key`, from the identity cache while its generation holds.

    A cached row that is no longer usable (expired, say) is read again rather than
    refused: the database may know better (a refresh extends a family's expiry).
    """
    cache = backend.identity_cache
    row, generation = await cache.get(key, owner_hint)
    if row is not None:
        if is_usable(row):
            return row
        cache.forget(key)
        _, generation = await cache.get(key, owner_hint)
    row = await load()
    if row is not None:
        cache.put(key, owner_of(row), generation, row)
    return row


async def _live_credential(
    backend: AuthBackend,
    key: str,
    load: Callable[[], Awaitable[Credential | None]],
    owner_hint: str | None = None,
) -> Credential | None:
    settings = backend.settings
    now = utcnow()
    row: Credential | None = await _cached(
        backend, key, load, lambda c: is_live(c, settings, now), lambda c: str(c.user_id), owner_hint
    )
    if row is not None:
        await touch(row, settings, now)
    return row


async def _basic_user(backend: AuthBackend, header_value: str, client: ClientInfo) -> User | None:
    user: User | None = await _cached(
        backend,
        "b:" + keyed_digest(backend.basic_key, header_value),
        lambda: backend.basic.authenticate(header_value, client.ip),
        lambda u: bool(u.is_active),
        lambda u: str(u.id),
    )
    return user


async def _from_header(credential: HeaderCredential, backend: AuthBackend, client: ClientInfo) -> Identity:
    if credential.scheme == "Basic":
        _require_enabled(backend, Scheme.BASIC, "Basic")
        if backend.settings.production and not client.is_https:
            raise CredentialRejected("HTTPS is required for Basic authentication.", "Basic")
        user = await _basic_user(backend, credential.value, client)
        if user is None:
            raise CredentialRejected("Invalid login or password.", "Basic")
        return Identity(user=user, roles=frozenset(user.roles), scheme=Scheme.BASIC, presented_as="Basic")
    if credential.scheme == "Token" or looks_like_api_token(credential.value):
        _require_enabled(backend, Scheme.TOKEN, credential.scheme)
        token = credential.value
        row = await _live_credential(backend, "t:" + digest(token), lambda: backend.api_tokens.read(token))
        if row is None:
            raise CredentialRejected("Invalid, expired or revoked API token.", credential.scheme)
        return backend.identities.of(row, Scheme.TOKEN, credential.scheme)
    _require_enabled(backend, Scheme.JWT, "Bearer")
    try:
        claims = backend.jwt.verify(credential.value)
    except InvalidAccessToken:
        raise CredentialRejected("Invalid or expired access token.", "Bearer") from None
    family = await _live_credential(
        backend,
        "f:" + claims.family_id,
        lambda: backend.refresh.read_family(claims.family_id),
        claims.user_id,
    )
    if family is None or str(family.user_id) != claims.user_id:
        raise CredentialRejected("Invalid or expired access token.", "Bearer")
    return backend.identities.of(family, Scheme.JWT, "Bearer")


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
    row = await _live_credential(
        backend, "s:" + digest(session_id), lambda: backend.sessions.read(session_id)
    )
    if row is None:
        return Resolution(ANONYMOUS, clear_cookie=True)
    return Resolution(backend.identities.of(row, Scheme.SESSION, "cookie"))
