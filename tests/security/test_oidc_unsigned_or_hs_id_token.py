"""Unsigned (`alg: none`) and HMAC-signed ID tokens are refused, even when the provider
itself signs them with the client secret (oidc-provider does for a client registered with
`id_token_signed_response_alg: HS256`, and advertises HS256): only asymmetric algorithms
with a key of the provider's JWKS verify, and a header naming or carrying a key (`jku`,
`jwk`, `x5u`, `x5c`) or a `crit` extension is refused before any key is looked up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import jwt as pyjwt
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from core.settings import Settings
from models import User
from tests.helpers import gql, oidc_fixtures
from tests.helpers.federation import ID_TOKEN_LOGIN, Browser, callback_uri, error_of, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
idp = oidc_fixtures.idp

HS = "hs"


@pytest.fixture(scope="module")
def ours(idp: OpenIDProvider) -> RegisteredClient:
    return idp.register_client([callback_uri()])


@pytest.fixture(scope="module")
def hs_client(idp: OpenIDProvider) -> RegisteredClient:
    return idp.register_client([callback_uri(provider=HS)], id_token_signed_response_alg="HS256")


@pytest.fixture
def settings(idp: OpenIDProvider, ours: RegisteredClient, hs_client: RegisteredClient) -> Settings:
    return federated_settings(idp, ours, extra_providers=(idp.provider_entry(HS, hs_client),))


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hmac_token(header: dict, claims: dict, secret: bytes, alg: str) -> str:
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signing_input = f"{b64(header)}.{b64(claims)}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), digest).digest())}"


async def sign_in(http: httpx.AsyncClient, token: str, provider: str = "harness", nonce: str | None = None):
    variables = {"provider": provider, "idToken": token, "nonce": nonce}
    return await gql(http, ID_TOKEN_LOGIN, variables, cookies=False)


async def test_the_providers_own_hs256_id_token_is_refused_at_the_callback(
    http: httpx.AsyncClient, idp: OpenIDProvider
):
    browser = Browser(http, idp)
    response = await browser.sign_in(provider=HS)
    assert error_of(response) == ("invalid_id_token", None)
    assert "session=" not in response.headers.get("set-cookie", "")
    assert await User.all().count() == 0


async def test_the_providers_own_hs256_id_token_is_refused_from_an_app(
    http: httpx.AsyncClient, idp: OpenIDProvider, hs_client: RegisteredClient
):
    token = (await idp.code_flow_tokens(hs_client, nonce="n"))["id_token"]
    assert pyjwt.get_unverified_header(token)["alg"] == "HS256"
    assert (await sign_in(http, token, HS, "n")).codes == ["UNAUTHENTICATED"]


async def test_an_unsigned_token_is_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, ours: RegisteredClient
):
    claims = idp.id_token_claims(ours.client_id)
    for header in ({"alg": "none"}, {"alg": "none", "kid": "k1-rsa"}, {"alg": "None"}, {"typ": "JWT"}):
        for signature in ("", "AAAA"):
            token = f"{b64(header)}.{b64(claims)}.{signature}"
            assert (await sign_in(http, token)).codes == ["UNAUTHENTICATED"], (header, signature)
    assert await User.all().count() == 0


async def test_an_hmac_keyed_with_the_providers_public_key_is_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, ours: RegisteredClient
):
    public = KeySet.import_key_set(idp.keys).keys[0]
    claims = idp.id_token_claims(ours.client_id)
    # The public key in every form a confused verifier might take for an HMAC secret.
    for secret in (public.as_pem(private=False), json.dumps(public.as_dict(private=False)).encode()):
        for alg in ("HS256", "HS512"):
            token = hmac_token({"alg": alg, "kid": public.kid}, claims, secret, alg)
            assert (await sign_in(http, token)).codes == ["UNAUTHENTICATED"], alg


async def test_a_key_supplied_by_the_token_is_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, ours: RegisteredClient
):
    attacker = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    claims = idp.id_token_claims(ours.client_id)
    headers = [
        {"jwk": attacker.as_dict(private=False)},
        {"jku": "http://127.0.0.1:9/jwks"},
        {"x5u": "http://127.0.0.1:9/cert"},
        {"x5c": ["MIIB"]},
    ]
    for extra in headers:
        token = jwt.encode({"alg": "RS256", "kid": "attacker", **extra}, claims, attacker)
        assert (await sign_in(http, token)).codes == ["UNAUTHENTICATED"], extra
    # With the provider's own signature and a header that carries a key or an extension.
    for extra in ({"jku": "http://127.0.0.1:9/jwks"}, {"crit": ["exp"], "exp": 1}):
        assert (await sign_in(http, idp.forge(claims, **extra))).codes == ["UNAUTHENTICATED"], extra
    assert not (await sign_in(http, idp.forge(claims))).errors  # the same token, plain: accepted
