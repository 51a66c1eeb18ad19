"""Algorithm confusion across key types. Under EdDSA and ES256 the verification key is
public (anyone reads it from the JWKS): a token "signed" with HS256 using that public key
as the HMAC secret (raw, as its JWK, as PEM) must not verify, nor one relabelled with the
other curve's algorithm. Each key verifies under its own algorithm only
(auth/strategy/jwt.py); the reverse, an asymmetric signature under an HS256 server's kid, is
in test_key_confusion.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import ECKey, OKPKey

from core.settings import Settings
from tests.helpers import ME, bearer, bearer_login, gql, make_settings
from tests.helpers.forgery import b64, claims_of, fixed_key_ring, header_of, sign_as_server

INVALID_TOKEN = 'Bearer realm="gatehouse", error="invalid_token"'


def assert_rejected(result) -> None:
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == INVALID_TOKEN


def hmac_token(header: dict, claims: dict, secret: bytes, digest=hashlib.sha256) -> str:
    encode = lambda value: b64(json.dumps(value, separators=(",", ":")).encode())  # noqa: E731
    signing_input = f"{encode(header)}.{encode(claims)}"
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), digest).digest())


@pytest.fixture(params=["EdDSA", "ES256"])
def settings(request) -> Settings:
    return make_settings(jwt_algorithm=request.param)


@pytest.fixture
async def genuine(http: httpx.AsyncClient, alice) -> str:
    return (await bearer_login(http, "alice"))["accessToken"]


async def public_secrets(http: httpx.AsyncClient, kid: str) -> dict[str, bytes]:
    """The forms of the published key an HMAC confusion would try as its secret."""
    (jwk,) = [k for k in (await http.get("/.well-known/jwks.json")).json()["keys"] if k["kid"] == kid]
    imported = OKPKey.import_key(jwk) if jwk["kty"] == "OKP" else ECKey.import_key(jwk)
    pem = imported.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "raw-x": base64.urlsafe_b64decode(jwk["x"] + "=="),
        "jwk-json": json.dumps(jwk).encode(),
        "pem": pem,
    }


async def test_the_server_s_own_signature_is_accepted(http, app, genuine):
    # Control: re-signed with the server's key, the same claims pass.
    forged = sign_as_server(app, claims_of(genuine))
    assert (await gql(http, ME, headers=bearer(forged), cookies=False)).data["me"]["username"] == "alice"


@pytest.mark.parametrize("form", ["raw-x", "jwk-json", "pem"])
@pytest.mark.parametrize(("alg", "digest"), [("HS256", hashlib.sha256), ("HS512", hashlib.sha512)])
async def test_an_hmac_keyed_with_the_public_key_is_refused(http, genuine, form, alg, digest):
    header = {**header_of(genuine), "alg": alg}
    secret = (await public_secrets(http, header["kid"]))[form]
    forged = hmac_token(header, claims_of(genuine), secret, digest)
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))


async def test_the_other_curve_s_label_is_refused(http, app, genuine):
    # A genuine signature under its key, the header claiming the other asymmetric algorithm.
    header = header_of(genuine)
    other = "ES256" if header["alg"] == "EdDSA" else "EdDSA"
    signer = fixed_key_ring(other).signer
    relabelled = jwt.encode(claims_of(genuine), signer.key, algorithm=other, headers={"kid": header["kid"]})
    assert_rejected(await gql(http, ME, headers=bearer(relabelled), cookies=False))

