"""Algorithm substitution in an encrypted access token: the same JWS sealed with another
`alg` (key wrapping, `none`) or another `enc` (a shorter key, CBC-HMAC) under keys derived
from the server's own. Only `dir` with `A256GCM` opens (ACCESS_TOKEN_ENCRYPTION=on)."""

from __future__ import annotations

import json

import httpx
import pytest
from joserfc.jwk import OctKey

from core.settings import Settings
from tests.helpers import BEARER_CHALLENGE, ME, Persona, bearer, bearer_login, gql, make_settings
from tests.helpers.sealed import b64, content_key_bytes, inner_jws, jwe_header, replace_segment, seal_with

# (alg, enc, the key sealed with): what an attacker who guessed or leaked a related key
# could try, and what a library with a permissive default would accept.
SUBSTITUTES = [
    ("dir", "A128GCM", content_key_bytes()[:16]),
    ("dir", "A256CBC-HS512", content_key_bytes() * 2),
    ("A256KW", "A256GCM", content_key_bytes()),
    ("A256GCMKW", "A256GCM", content_key_bytes()),
    ("PBES2-HS256+A128KW", "A256GCM", content_key_bytes()),
]


@pytest.fixture
def settings() -> Settings:
    return make_settings(access_token_encryption=True)


async def refused(http: httpx.AsyncClient, token: str) -> None:
    result = await gql(http, ME, headers=bearer(token), cookies=False)
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == BEARER_CHALLENGE


async def test_every_other_alg_or_enc_is_refused(http: httpx.AsyncClient, alice: Persona):
    issued = (await bearer_login(http, "alice"))["accessToken"]
    jws, kid = inner_jws(issued), jwe_header(issued)["kid"]
    for alg, enc, key in SUBSTITUTES:
        header = {"alg": alg, "enc": enc, "cty": "JWT", "kid": kid}
        await refused(http, seal_with(header, jws.encode(), [alg, enc], OctKey.import_key(key)))
    # The control: the same JWS, sealed as the server seals, is accepted.
    control = seal_with(
        {"alg": "dir", "enc": "A256GCM", "cty": "JWT", "kid": kid},
        jws.encode(),
        ["dir", "A256GCM"],
        OctKey.import_key(content_key_bytes()),
    )
    assert (await gql(http, ME, headers=bearer(control), cookies=False)).status == 200


async def test_alg_none_and_a_header_naming_its_own_key_are_refused(http: httpx.AsyncClient, alice: Persona):
    issued = (await bearer_login(http, "alice"))["accessToken"]
    kid = jwe_header(issued)["kid"]
    for header in (
        {"alg": "none", "enc": "A256GCM", "cty": "JWT", "kid": kid},
        {"alg": "dir", "enc": "A256GCM", "cty": "JWT", "kid": kid, "jku": "https://evil.example/jwks"},
        {
            "alg": "dir",
            "enc": "A256GCM",
            "cty": "JWT",
            "kid": kid,
            "jwk": {"kty": "oct", "k": b64(b"k" * 32)},
        },
        {"alg": "dir", "enc": "A256GCM", "cty": "JWT", "kid": kid, "crit": ["exp"], "exp": 1},
    ):
        await refused(http, replace_segment(issued, 0, b64(json.dumps(header).encode())))
