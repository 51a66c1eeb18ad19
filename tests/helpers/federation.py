"""Signing in through the real OpenID provider in tests: documents, settings and a browser.

`Browser` keeps one cookie jar per site, as a browser does: Gatehouse's (an httpx client
bound to the app, in-process or a real server) and the provider's (a fresh one per flow,
so each sign-in at the provider starts without a session there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.settings import OidcProviderSettings, Settings, parse_oidc_providers, parse_trusted_issuers
from tests.helpers.config import make_settings
from tests.helpers.graphql import GQLResponse, gql
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient, query_of

PROVIDER = "harness"
# The public root fields of section 10, beside the contract's first ones.
FEDERATION_PUBLIC = ("beginExternalLogin", "loginWithIdToken")
TESTSERVER = "http://testserver"

BEGIN = """
mutation Begin($provider: String!, $redirectTo: String) {
  beginExternalLogin(provider: $provider, redirectTo: $redirectTo) { url }
}"""
LINK = """
mutation Link($provider: String!, $redirectTo: String) {
  linkExternalIdentity(provider: $provider, redirectTo: $redirectTo) { url }
}"""
ID_TOKEN_LOGIN = """
mutation Mobile($provider: String!, $idToken: String!, $nonce: String, $transport: Transport) {
  loginWithIdToken(provider: $provider, idToken: $idToken, nonce: $nonce, transport: $transport) {
    user { id username email emailVerified } accessToken refreshToken tokenType expiresIn
  }
}"""
ME = "query { me { id username email emailVerified } }"
CREDENTIALS = "query { myCredentials { id kind name current expiresAt lastUsedAt } }"


def callback_uri(base: str = TESTSERVER, provider: str = PROVIDER) -> str:
    """Gatehouse's callback for `provider` at `base`."""
    return f"{base}/auth/callback/{provider}"


def providers_setting(*entries: dict[str, Any]) -> tuple[OidcProviderSettings, ...]:
    """`OIDC_PROVIDERS` as `Settings` holds it, read from the JSON entries."""
    return parse_oidc_providers(json.dumps(list(entries)))


def federated_settings(
    idp: OpenIDProvider,
    client: RegisteredClient,
    *,
    name: str = PROVIDER,
    extra_providers: tuple[dict[str, Any], ...] = (),
    trusted: list[dict[str, Any]] | None = None,
    entry: dict[str, Any] | None = None,
    **overrides: Any,
) -> Settings:
    """Test settings with `client` of `idp` as the provider `name` (and more)."""
    providers = providers_setting(idp.provider_entry(name, client, **(entry or {})), *extra_providers)
    values: dict[str, Any] = {"oidc_providers": providers, **overrides}
    if trusted is not None:
        values["trusted_issuers"] = parse_trusted_issuers(json.dumps(trusted))
    return make_settings(**values)


@dataclass
class Browser:
    """A browser that talks to Gatehouse through `http` and to the provider directly."""

    http: httpx.AsyncClient
    idp: OpenIDProvider

    async def begin(
        self, provider: str = PROVIDER, redirect_to: str | None = None, headers: dict[str, str] | None = None
    ) -> GQLResponse:
        """Call `beginExternalLogin` (the flow cookie lands in Gatehouse's jar)."""
        return await gql(self.http, BEGIN, {"provider": provider, "redirectTo": redirect_to}, headers=headers)

    async def link(
        self, provider: str = PROVIDER, redirect_to: str | None = None, headers: dict[str, str] | None = None
    ) -> GQLResponse:
        """Call `linkExternalIdentity` as whoever the jar (or `headers`) signs in."""
        return await gql(self.http, LINK, {"provider": provider, "redirectTo": redirect_to}, headers=headers)

    async def at_provider(self, url: str, login_hint: str | None = None) -> str:
        """Sign in at the provider; the callback URL it sends the browser to."""
        return await self.idp.authorize(url, login_hint)

    async def callback(self, landed: str, cookies: bool = True) -> httpx.Response:
        """Follow the provider's redirect into Gatehouse (not further)."""
        parts = urlsplit(landed)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if cookies:
            return await self.http.get(target)
        saved = httpx.Cookies(self.http.cookies)
        self.http.cookies.clear()
        try:
            return await self.http.get(target)
        finally:
            self.http.cookies = saved

    async def sign_in(
        self, provider: str = PROVIDER, login_hint: str | None = None, redirect_to: str | None = None
    ) -> httpx.Response:
        """The whole flow: begin, sign in at the provider, come back; the callback's answer."""
        begun = await self.begin(provider, redirect_to)
        assert not begun.errors, begun.body
        landed = await self.at_provider(begun.data["beginExternalLogin"]["url"], login_hint)
        return await self.callback(landed)

    async def me(self, headers: dict[str, str] | None = None) -> Any:
        """`me` as the jar (or `headers`) signs in."""
        result = await gql(self.http, ME, headers=headers)
        assert not result.errors, result.body
        return result.data["me"]


def error_of(response: httpx.Response) -> tuple[str | None, str | None]:
    """The error code a failed callback answered with (redirect query or page) and its reason."""
    if response.status_code == 303:
        query = query_of(response.headers["location"])
        return query.get("error"), query.get("reason")
    text = response.text
    marker = '<code id="error">'
    if marker in text:
        return text.split(marker, 1)[1].split("<", 1)[0], None
    return None, None
