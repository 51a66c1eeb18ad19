"""`/.well-known/jwks.json` and `/.well-known/openid-configuration` (web/wellknown.py), and
the claims a verifier reads from a real login's access token (docs/TOKENS.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from core.settings import Settings
from tests.helpers import bearer_login, make_settings


async def jwks(http: httpx.AsyncClient) -> dict:
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    return response.json()


async def test_the_jwks_publishes_the_signing_key_public_parts_only(http, app):
    keys = (await jwks(http))["keys"]
    signer = app.state.backend.keyring.signer
    assert [key["kid"] for key in keys] == [signer.kid]
    assert keys[0] == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": keys[0]["x"],
        "kid": signer.kid,
        "alg": "EdDSA",
        "use": "sig",
    }


async def test_a_token_verifies_with_the_published_key_alone(http, alice):
    token = (await bearer_login(http, "alice"))["accessToken"]
    key_set = jwt.PyJWKSet.from_dict(await jwks(http))
    key = key_set[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience="gatehouse", issuer="gatehouse")
    assert claims["sub"] == alice.id


async def test_the_claims_of_a_login(http, app, alice):
    before = datetime.now(UTC)
    token = (await bearer_login(http, "alice"))["accessToken"]
    claims = jwt.decode(token, options={"verify_signature": False})
    contract = {"sub", "iss", "aud", "exp", "iat", "jti", "typ", "sid", "roles", "scope", "auth_time", "amr"}
    assert contract <= set(claims)
    # Full rights: every scope the served schema names, space-separated (RFC 9068).
    assert claims["scope"] == " ".join(sorted(app.state.schema.known_scopes))
    assert {"users:read", "users:write", "credentials:read", "credentials:write"} <= set(
        claims["scope"].split()
    )
    assert claims["typ"] == "access" and claims["roles"] == [] and claims["amr"] == ["pwd"]
    signed_in = datetime.fromtimestamp(claims["auth_time"], UTC)
    assert before - timedelta(seconds=2) <= signed_in <= datetime.now(UTC)
    assert "https://hasura.io/jwt/claims" not in claims


async def test_the_discovery_document_points_at_the_request_s_own_address(http):
    response = await http.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    document = response.json()
    assert document["issuer"] == "gatehouse"
    assert document["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    assert document["introspection_endpoint"] == "http://testserver/oauth/introspect"
    assert document["id_token_signing_alg_values_supported"] == ["EdDSA"]
    assert {"roles", "scope"} <= set(document["claims_supported"])
    assert "https://hasura.io/jwt/claims" not in document["claims_supported"]


class TestUnderHasuraClaims:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(hasura_claims=True)

    async def test_the_hasura_claim_is_supported(self, http):
        document = (await http.get("/.well-known/openid-configuration")).json()
        assert "https://hasura.io/jwt/claims" in document["claims_supported"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_only_get_is_served(http, method):
    for path in ("/.well-known/jwks.json", "/.well-known/openid-configuration"):
        assert (await http.request(method, path)).status_code == 405


class TestUnderAnIssuerUrl:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(jwt_issuer="https://auth.example.com/", jwt_algorithm="ES256")

    async def test_the_urls_follow_the_issuer(self, http):
        document = (await http.get("/.well-known/openid-configuration")).json()
        assert document["issuer"] == "https://auth.example.com/"
        assert document["jwks_uri"] == "https://auth.example.com/.well-known/jwks.json"
        assert document["introspection_endpoint"] == "https://auth.example.com/oauth/introspect"
        assert document["id_token_signing_alg_values_supported"] == ["ES256"]

    async def test_es256_keys_are_published_with_both_coordinates(self, http):
        (key,) = (await jwks(http))["keys"]
        assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256"
        assert {"x", "y"} <= set(key) and "d" not in key


class TestUnderHS256:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(jwt_algorithm="HS256")

    async def test_the_key_set_is_empty(self, http, alice):
        assert await jwks(http) == {"keys": []}
        token = (await bearer_login(http, "alice"))["accessToken"]
        assert jwt.get_unverified_header(token)["alg"] == "HS256"


class TestHasuraClaims:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(hasura_claims=True)

    async def test_a_login_carries_hasura_s_claims(self, http, alice):
        token = (await bearer_login(http, "alice"))["accessToken"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["https://hasura.io/jwt/claims"] == {
            "x-hasura-user-id": alice.id,
            "x-hasura-default-role": "user",
            "x-hasura-allowed-roles": ["user"],
        }
