"""Signature forgery by key or algorithm confusion under `JWT_ALGORITHM=HS256`: tokens
signed with another key, with another algorithm (HS512, RS256 header pointing at the
server's kid), or under a kid the server does not know. Only HS256 under a configured key
verifies. The asymmetric algorithms' confusions (an HMAC keyed with the published public
key, a signature under another curve's label) are in test_hs_public_key_confusion.py."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import jwt
import pytest

from auth.secrets import derive_key
from core.settings import Settings
from tests.helpers import ME, TEST_SECRET, bearer, bearer_login, gql, make_settings
from tests.helpers.forgery import (
    b64,
    claims_of,
    fixed_key_ring,
    header_of,
    kid_of,
    raw_token,
    server_key,
    sign,
)

INVALID_TOKEN = 'Bearer realm="gatehouse", error="invalid_token"'


def assert_rejected(result) -> None:
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == INVALID_TOKEN


@pytest.fixture
def settings() -> Settings:
    return make_settings(jwt_algorithm="HS256")


@pytest.fixture
async def genuine(http: httpx.AsyncClient, alice) -> str:
    return (await bearer_login(http, "alice"))["accessToken"]


async def test_resigning_with_the_server_key_is_accepted(http, genuine):
    # Control: the helpers reproduce a valid token, so each refusal below is the attack's.
    forged = sign(claims_of(genuine), server_key())
    assert (await gql(http, ME, headers=bearer(forged), cookies=False)).data["me"]["username"] == "alice"


@pytest.mark.parametrize(
    "key",
    [
        b"attacker-chosen-key-0123456789abcdef",
        TEST_SECRET.encode(),  # the raw SECRET_KEY, not the derived JWT key
        derive_key(TEST_SECRET, "basic-cache/v1"),  # a sibling key for another purpose
        b"",
    ],
    ids=["attacker-key", "raw-secret", "sibling-purpose-key", "empty-key"],
)
async def test_hs256_signed_with_another_key_is_refused(http, genuine, key):
    signing_input = genuine.rsplit(".", 1)[0]  # the genuine header (HS256, server kid) and claims
    forged = signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the forger's warning
@pytest.mark.parametrize("alg", ["HS384", "HS512"])
async def test_other_hmac_algorithms_with_the_right_key_are_refused(http, genuine, alg):
    forged = sign(claims_of(genuine), server_key(), algorithm=alg)
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA"])
async def test_asymmetric_algorithm_headers_are_refused(http, genuine, alg):
    # The classic confusion: an RS256 header, hoping the server verifies with its HMAC key
    # as a "public key", or an HMAC made with the key under an asymmetric label.
    header = {**header_of(genuine), "alg": alg}
    unsigned = raw_token(header, claims_of(genuine)).rsplit(".", 1)[0]
    mac = hmac.new(server_key(), unsigned.encode(), hashlib.sha256).digest()
    forged = f"{unsigned}.{b64(mac)}"
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))


async def test_header_claimed_key_material_is_ignored(http, genuine):
    # jwk / jku / x5u headers must never supply the verification key.
    attacker_key = b"attacker-chosen-key-0123456789abcdef"
    header = {
        **header_of(genuine),
        "jwk": {"kty": "oct", "k": b64(attacker_key)},
        "jku": "https://evil.example/k",
    }
    unsigned = raw_token(header, claims_of(genuine)).rsplit(".", 1)[0]
    forged = unsigned + "." + b64(hmac.new(attacker_key, unsigned.encode(), hashlib.sha256).digest())
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))


@pytest.mark.parametrize("kid", ["", "0000000000000000", "../../etc/passwd", None])
async def test_unknown_or_missing_kid_is_refused(http, genuine, kid):
    header = {k: v for k, v in header_of(genuine).items() if k != "kid"}
    if kid is not None:
        header["kid"] = kid
    unsigned = raw_token(header, claims_of(genuine)).rsplit(".", 1)[0]
    forged = unsigned + "." + b64(hmac.new(server_key(), unsigned.encode(), hashlib.sha256).digest())
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))


async def test_the_kid_names_the_derived_key_not_the_secret(genuine):
    assert header_of(genuine)["kid"] == kid_of(server_key())
    assert TEST_SECRET[:8] not in genuine


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
async def test_an_asymmetric_signature_under_the_hmac_kid_is_refused(http, genuine, algorithm):
    # A real EdDSA / ES256 signature (the attacker's key) presented under the HS256 kid.
    signer = fixed_key_ring(algorithm).signer
    header = header_of(genuine)
    assert header["alg"] == "HS256"
    forged = jwt.encode(claims_of(genuine), signer.key, algorithm=algorithm, headers={"kid": header["kid"]})
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))
