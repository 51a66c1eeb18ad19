"""The one object that turns a request into an `Identity`: `Authenticator.authenticate`.

Header credentials that are present but wrong stop the request (`CredentialRejected`,
answered with 401 and a challenge). A stale session cookie never blocks: the request
goes on as anonymous and the response clears the cookie.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from auth.errors import CredentialRejected
from auth.identity import ANONYMOUS, Identity, Scheme
from auth.methods import AuthMethod
from auth.strategy.api_token import looks_like_api_token
from auth.strategy.base import Strategy
from auth.strategy.trusted_issuer import TrustedIssuerStrategy
from auth.transport.base import CookieTransport, HeaderTransport
from auth.transport.header import read_authorization
from core.client import ClientInfo


@dataclass(frozen=True)
class Resolution:
    """The identity of a request, and whether its session cookie must be cleared."""

    identity: Identity
    clear_cookie: bool = False


class Authenticator:
    """Runs the methods of a deployment: the Authorization header if present (it wins),
    else the session cookie. Every method is known, enabled or not, so a disabled one is
    refused by name instead of being mistaken for another."""

    def __init__(
        self,
        methods: Iterable[AuthMethod],
        enabled: Collection[str],
        trusted_issuers: TrustedIssuerStrategy | None = None,
    ) -> None:
        by_scheme = {method.strategy.scheme: method for method in methods}
        # Bearer JWTs of other issuers (TRUSTED_ISSUERS), chosen by their `iss`; `None`
        # when there is none, so Gatehouse's own tokens pay nothing for the choice.
        self._trusted = trusted_issuers if trusted_issuers is not None and trusted_issuers.enabled else None
        # Decided once, not per request: each header method as (strategy, why it is
        # refused before reading anything or None, whether it needs HTTPS).
        self._basic = self._header_route(by_scheme[Scheme.BASIC], enabled)
        self._token = self._header_route(by_scheme[Scheme.TOKEN], enabled)
        self._jwt = self._header_route(by_scheme[Scheme.JWT], enabled)
        session = by_scheme[Scheme.SESSION]
        assert isinstance(session.transport, CookieTransport)
        self._cookie = session.transport
        self._session = session.strategy
        self._session_enabled = session.name in enabled

    @staticmethod
    def _header_route(method: AuthMethod, enabled: Collection[str]) -> tuple[Strategy, str | None, bool]:
        transport = method.transport
        assert isinstance(transport, HeaderTransport)
        disabled = (
            None
            if method.name in enabled
            else f"The {method.name} authentication scheme is disabled on this server."
        )
        return method.strategy, disabled, transport.https_only

    async def identify_token(self, value: str, client: ClientInfo) -> Identity | None:
        """The identity of a bare token another service received, or `None` when it is
        not live (unknown, expired, revoked, malformed, or of a disabled scheme).

        For introspection: the same strategies, identity cache and revocation checks as
        an `Authorization` header, routed the same way (an API token by its prefix,
        anything else as an access JWT). Only bearer-style tokens are read: a refresh
        token is spent by rotation, never looked up here, and a session id or a Basic
        password is no token to hand to another service.
        """
        if looks_like_api_token(value):
            strategy, disabled, _ = self._token
            presented_as = "Token"
        else:
            strategy, disabled, _ = self._jwt
            presented_as = "Bearer"
        if disabled is not None:
            return None
        return await strategy.read_token(value, presented_as, client)

    async def authenticate(self, conn: HTTPConnection, client: ClientInfo) -> Resolution:
        """Who is calling (`CredentialRejected` for a wrong header credential)."""
        header = read_authorization(conn.headers.get("authorization"))
        if header is not None:
            presented_as = header.scheme
            if presented_as == "Basic":
                strategy, disabled, https_only = self._basic
            elif presented_as == "Token" or looks_like_api_token(header.value):
                strategy, disabled, https_only = self._token
            else:
                strategy, disabled, https_only = self._jwt
                if self._trusted is not None and self._trusted.issuer_of(header.value) is not None:
                    strategy = self._trusted
            if disabled is not None:
                raise CredentialRejected(disabled, presented_as)
            if https_only and not client.is_https:
                raise CredentialRejected(
                    f"HTTPS is required for {presented_as} authentication.", presented_as
                )
            identity = await strategy.read_token(header.value, presented_as, client)
            if identity is None:
                raise CredentialRejected(strategy.rejection, presented_as)
            return Resolution(identity)
        session_id = self._cookie.read(conn)
        if session_id is None:
            return Resolution(ANONYMOUS)
        if not self._session_enabled:
            return Resolution(ANONYMOUS, clear_cookie=True)
        identity = await self._session.read_token(session_id, "cookie", client)
        if identity is None:
            return Resolution(ANONYMOUS, clear_cookie=True)
        return Resolution(identity)
