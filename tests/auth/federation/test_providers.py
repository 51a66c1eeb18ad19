"""`OidcProvider` against a real OpenID provider (npm oidc-provider, tests/helpers/oidc_provider.py):
discovery, the authorization URL (PKCE S256, state, nonce), the code exchange by authlib's
client, and the ID token it returns verified from the provider's JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterator

import pytest

from auth.federation.discovery import FederationHttp, ProviderUnavailable
from auth.federation.providers import CodeRejected, Federation, OidcProvider, PkceUnsupported
from auth.federation.tokens import InvalidProviderToken
from core.settings import parse_oidc_providers
from tests.helpers import make_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient, query_of

CALLBACK = "http://testserver/auth/callback/harness"


@pytest.fixture(scope="module")
def idp() -> Iterator[OpenIDProvider]:
    with OpenIDProvider() as running:
        yield running


@pytest.fixture(scope="module")
def client(idp: OpenIDProvider) -> RegisteredClient:
    return idp.register_client([CALLBACK])


@pytest.fixture
async def provider(idp: OpenIDProvider, client: RegisteredClient) -> AsyncIterator[OidcProvider]:
    idp.override_discovery()
    settings = make_settings(
        oidc_providers=parse_oidc_providers(json.dumps([idp.provider_entry("harness", client)]))
    )
    federation = Federation(settings)
    yield federation.providers["harness"]
    await federation.close()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def test_the_metadata_is_read_from_the_issuer(idp: OpenIDProvider, provider: OidcProvider):
    metadata = await provider.metadata()
    assert metadata.issuer == idp.issuer
    assert metadata.supports_s256 and metadata.sends_iss_parameter
    assert metadata.jwks_uri == f"{idp.issuer}/jwks"


async def test_the_authorization_url_carries_pkce_s256_state_and_nonce(provider: OidcProvider):
    url = await provider.authorization_url(
        redirect_uri=CALLBACK, state="the-state", nonce="the-nonce", code_verifier="v" * 43
    )
    query = query_of(url)
    assert url.startswith(provider.issuer + "/auth?")
    assert query["response_type"] == "code" and query["client_id"] == provider.client_id
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == s256("v" * 43)
    assert query["state"] == "the-state" and query["nonce"] == "the-nonce"
    assert query["redirect_uri"] == CALLBACK and query["scope"] == "openid email profile"


async def test_a_whole_flow_gives_a_verified_id_token(idp: OpenIDProvider, provider: OidcProvider):
    verifier = "w" * 50
    url = await provider.authorization_url(
        redirect_uri=CALLBACK, state="s-1", nonce="n-1", code_verifier=verifier
    )
    landed = query_of(await idp.authorize(url))
    assert landed["state"] == "s-1" and landed["iss"] == idp.issuer
    token = await provider.exchange_code(code=landed["code"], redirect_uri=CALLBACK, code_verifier=verifier)
    claims = await provider.verify_id_token(
        token["id_token"], nonce="n-1", access_token=token["access_token"]
    )
    assert claims.issuer == idp.issuer and claims.subject == "ext-alice"
    assert claims.email == "alice.ext@example.com" and claims.email_verified
    assert claims.preferred_username == "alice_ext"

    with pytest.raises(InvalidProviderToken, match="nonce"):
        await provider.verify_id_token(token["id_token"], nonce="another-nonce")
    # The code is spent: the provider refuses it a second time.
    with pytest.raises(CodeRejected) as again:
        await provider.exchange_code(code=landed["code"], redirect_uri=CALLBACK, code_verifier=verifier)
    assert again.value.error == "invalid_grant"


async def test_a_code_without_its_verifier_is_refused(idp: OpenIDProvider, provider: OidcProvider):
    url = await provider.authorization_url(
        redirect_uri=CALLBACK, state="s-2", nonce="n-2", code_verifier="x" * 50
    )
    landed = query_of(await idp.authorize(url))
    with pytest.raises(CodeRejected):
        await provider.exchange_code(code=landed["code"], redirect_uri=CALLBACK, code_verifier="y" * 50)


async def test_a_provider_without_s256_is_refused_at_begin(idp: OpenIDProvider, provider: OidcProvider):
    idp.override_discovery(code_challenge_methods_supported=["plain"])
    with pytest.raises(PkceUnsupported):
        await provider.authorization_url(redirect_uri=CALLBACK, state="s", nonce="n", code_verifier="v" * 43)


async def test_a_provider_that_lists_no_pkce_method_is_refused_too(
    idp: OpenIDProvider, provider: OidcProvider
):
    idp.override_discovery(code_challenge_methods_supported=[])
    with pytest.raises(PkceUnsupported):
        await provider.authorization_url(redirect_uri=CALLBACK, state="s", nonce="n", code_verifier="v" * 43)


async def test_a_discovery_document_of_another_issuer_is_refused(idp: OpenIDProvider, provider: OidcProvider):
    idp.override_discovery(issuer="https://evil.example")
    with pytest.raises(ProviderUnavailable, match="another issuer"):
        await provider.metadata()


async def test_an_unreachable_provider_is_unavailable():
    http = FederationHttp(timeout=2)
    settings = parse_oidc_providers(
        json.dumps([{"name": "gone", "issuer": "http://127.0.0.1:9", "client_id": "x"}])
    )[0]
    provider = OidcProvider(settings, http)
    try:
        with pytest.raises(ProviderUnavailable, match="did not answer"):
            await provider.metadata()
    finally:
        await http.close()
