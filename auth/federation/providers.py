"""The OpenID providers of `OIDC_PROVIDERS` and the issuers of `TRUSTED_ISSUERS`.

An `OidcProvider` builds the authorization URL of the code flow (PKCE with S256, `state`,
`nonce`) and exchanges the code, both with authlib's OAuth 2 client, and verifies the ID
tokens it issues (`tokens.py`). A `TrustedIssuer` verifies the access tokens it issues
for the configured audience. `Federation` holds both kinds for a deployment, built once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import httpx2
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from auth.federation.discovery import (
    PKCE_METHOD,
    FederationHttp,
    MetadataCache,
    ProviderMetadata,
    ProviderUnavailable,
)
from auth.federation.keys import KeysUnavailable, RemoteKeySet
from auth.federation.tokens import (
    ASYMMETRIC_ALGORITHMS,
    ProviderClaims,
    allowed_algorithms,
    check_access_token,
    check_id_token,
    verify_signature,
)
from core.settings import OidcProviderSettings, Settings, TrustedIssuerSettings

logger = logging.getLogger("gatehouse.federation")


class PkceUnsupported(ProviderUnavailable):
    """The provider's metadata does not offer PKCE with S256: no flow is begun with it
    (a provider that might fall back to `plain`, or to no PKCE at all, is not used)."""


class CodeRejected(Exception):
    """The token endpoint refused the code (used, expired, for another client, or sent
    without its PKCE verifier); `error` is the provider's OAuth error code."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class OidcProvider:
    """One entry of `OIDC_PROVIDERS`, its metadata and keys read from its issuer."""

    def __init__(self, settings: OidcProviderSettings, http: FederationHttp) -> None:
        self.settings = settings
        self.name = settings.name
        self.issuer = settings.issuer
        self.client_id = settings.client_id
        self._http = http
        self._metadata = MetadataCache(settings.issuer, http)
        self.keys = RemoteKeySet(self._read_keys)

    async def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (`ProviderUnavailable` when it cannot be read)."""
        return await self._metadata.get()

    async def _read_keys(self) -> Any:
        try:
            return await self._http.get_json((await self.metadata()).jwks_uri)
        except ProviderUnavailable as exc:
            raise KeysUnavailable(str(exc)) from None

    def _client(self, metadata: ProviderMetadata, redirect_uri: str) -> AsyncOAuth2Client:
        secret = self.settings.client_secret
        if secret is None:
            method = "none"  # a public client: PKCE is what binds the code to this flow
        elif "client_secret_basic" in metadata.token_endpoint_auth_methods:
            method = "client_secret_basic"
        else:
            method = "client_secret_post"
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=secret.reveal() if secret is not None else None,
            token_endpoint_auth_method=method,
            scope=" ".join(self.settings.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method=PKCE_METHOD,
            timeout=self._http.timeout,
            follow_redirects=False,
        )

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        """Where the browser goes to sign in: the code flow, PKCE S256 (the challenge of
        `code_verifier`), `state` and `nonce`. `PkceUnsupported` when the provider does
        not say it accepts S256."""
        metadata = await self.metadata()
        if not metadata.supports_s256:
            raise PkceUnsupported(f"the provider {self.name} does not offer PKCE with {PKCE_METHOD}")
        async with self._client(metadata, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint, state=state, code_verifier=code_verifier, nonce=nonce
            )
        return str(url)

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """The token response for `code` (with `id_token`): `CodeRejected` when the
        provider refuses it, `ProviderUnavailable` when it does not answer."""
        metadata = await self.metadata()
        try:
            async with self._client(metadata, redirect_uri) as client:
                token = await client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(
                f"the token endpoint of {self.name} did not answer ({type(exc).__name__})"
            ) from None
        except AuthlibBaseError as exc:
            raise CodeRejected(str(getattr(exc, "error", None) or "invalid_grant")) from None
        except (ValueError, KeyError, TypeError):
            raise CodeRejected("invalid_response") from None
        if not isinstance(token.get("id_token"), str):
            raise CodeRejected("no_id_token")
        return dict(token)

    async def verify_id_token(
        self,
        id_token: str,
        *,
        nonce: str | None,
        audiences: Sequence[str] | None = None,
        access_token: str | None = None,
    ) -> ProviderClaims:
        """The claims of an ID token this provider issued for us: signed by a key of its
        JWKS under an asymmetric algorithm it advertises, `iss` this issuer, `aud` one of
        `audiences` (the web client alone by default), `nonce` as expected.
        `InvalidProviderToken` when it is not; `ProviderUnavailable` or `KeysUnavailable`
        when the provider's metadata or keys cannot be read."""
        audiences = tuple(audiences or (self.client_id,))
        metadata = await self.metadata()
        token = await verify_signature(
            id_token, self.keys, allowed_algorithms(metadata.id_token_signing_algorithms)
        )
        # The party the token was issued to: the client of `audiences` that `azp` names,
        # else its one audience; with several audiences authlib then requires `azp`.
        azp, aud = token.claims.get("azp"), token.claims.get("aud")
        sole = aud[0] if isinstance(aud, list) and len(aud) == 1 else aud
        if isinstance(azp, str) and azp in audiences:
            client_id = azp
        elif isinstance(sole, str) and sole in audiences:
            client_id = sole
        else:
            client_id = self.client_id
        return check_id_token(
            token,
            issuer=self.issuer,
            audiences=audiences,
            client_id=client_id,
            nonce=nonce,
            access_token=access_token,
        )

    async def with_userinfo(self, claims: ProviderClaims, access_token: str | None) -> ProviderClaims:
        """`claims` completed from the UserInfo endpoint (OpenID Connect Core 5.3) when the
        ID token names no email, as a provider following the specification sends the
        scopes' claims there for the code flow, not in the ID token. An answer counts only
        for the ID token's own `sub` (5.3.4) and never overrides the ID token's claims.
        Unchanged when there is no endpoint or access token, or the endpoint gives no
        usable answer (logged): the sign-in then goes on without an address, which makes
        no account (`PROVIDER_EMAIL_UNVERIFIED`)."""
        metadata = await self.metadata()
        if claims.email is not None or access_token is None or metadata.userinfo_endpoint is None:
            return claims
        try:
            answer = await self._http.get_json(metadata.userinfo_endpoint, bearer=access_token)
        except ProviderUnavailable as exc:
            logger.warning("userinfo of %s unavailable: %s", self.name, exc)
            return claims
        if not isinstance(answer, dict) or answer.get("sub") != claims.subject:
            logger.warning("userinfo of %s answered for another subject: ignored", self.name)
            return claims
        email = answer.get("email")
        if not isinstance(email, str):
            return claims
        username, name = answer.get("preferred_username"), answer.get("name")
        return replace(
            claims,
            email=email,
            email_verified=answer.get("email_verified") is True,
            preferred_username=claims.preferred_username or (username if isinstance(username, str) else None),
            name=claims.name or (name if isinstance(name, str) else None),
        )


class TrustedIssuer:
    """One entry of `TRUSTED_ISSUERS`: its access tokens for `audience` are bearer
    credentials; its keys come from `jwks_uri`, else from its discovery document."""

    def __init__(self, settings: TrustedIssuerSettings, http: FederationHttp) -> None:
        self.settings = settings
        self.issuer = settings.issuer
        self.audience = settings.audience
        self._http = http
        self._metadata = None if settings.jwks_uri else MetadataCache(settings.issuer, http)
        self.keys = RemoteKeySet(self._read_keys)

    async def _read_keys(self) -> Any:
        try:
            if self.settings.jwks_uri is not None:
                return await self._http.get_json(self.settings.jwks_uri)
            assert self._metadata is not None
            return await self._http.get_json((await self._metadata.get()).jwks_uri)
        except ProviderUnavailable as exc:
            raise KeysUnavailable(str(exc)) from None

    async def verify(self, token: str) -> ProviderClaims:
        """The claims of an access token of this issuer for our audience
        (`InvalidProviderToken` otherwise; `KeysUnavailable` when its keys cannot be read)."""
        verified = await verify_signature(token, self.keys, ASYMMETRIC_ALGORITHMS)
        return check_access_token(verified, issuer=self.issuer, audience=self.audience)


class Federation:
    """The providers and trusted issuers of a deployment, sharing one HTTP client."""

    def __init__(self, settings: Settings) -> None:
        self.http = FederationHttp(settings.oidc_timeout)
        self.providers = {p.name: OidcProvider(p, self.http) for p in settings.oidc_providers}
        self.trusted_issuers = {t.issuer: TrustedIssuer(t, self.http) for t in settings.trusted_issuers}

    def provider(self, name: str) -> OidcProvider | None:
        """The provider called `name` in `OIDC_PROVIDERS`, or `None`."""
        return self.providers.get(name)

    def trusted_issuer(self, issuer: str | None) -> TrustedIssuer | None:
        """The trusted issuer whose identifier is exactly `issuer`, or `None`."""
        return self.trusted_issuers.get(issuer) if issuer is not None else None

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.close()
