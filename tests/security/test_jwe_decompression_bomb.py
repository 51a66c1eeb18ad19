"""Decompression bomb in an encrypted access token: a JWE with `"zip": "DEF"` whose few
kilobytes inflate to megabytes. Gatehouse never compresses, so any `zip` header is refused
before decryption, and nothing is ever inflated (ACCESS_TOKEN_ENCRYPTION=on)."""

from __future__ import annotations

import zlib

import httpx
import pytest

from auth.token_encryption import MAX_SEALED_BYTES
from core.settings import Settings
from tests.helpers import BEARER_CHALLENGE, ME, Persona, bearer, bearer_login, gql, make_settings
from tests.helpers.sealed import content_key, inner_jws, jwe_header, seal_with

INFLATED = 2_000_000  # bytes the bomb expands to


@pytest.fixture
def settings() -> Settings:
    return make_settings(access_token_encryption=True)


def bomb_around(jws: str, kid: str) -> str:
    """The valid JWS followed by two megabytes of padding, compressed, sealed under the
    server's own key: everything about it is right except the `zip` it asks for."""
    plaintext = jws.encode() + b" " * INFLATED
    header = {"alg": "dir", "enc": "A256GCM", "zip": "DEF", "cty": "JWT", "kid": kid}
    return seal_with(header, plaintext, ["dir", "A256GCM", "DEF"], content_key())


async def test_a_compressed_jwe_is_refused_without_inflating_it(
    http: httpx.AsyncClient, alice: Persona, monkeypatch
):
    issued = (await bearer_login(http, "alice"))["accessToken"]
    assert (await gql(http, ME, headers=bearer(issued), cookies=False)).data["me"]["username"] == "alice"
    bomb = bomb_around(inner_jws(issued), jwe_header(issued)["kid"])
    assert len(bomb) < MAX_SEALED_BYTES  # passes the size bound: only the zip check stops it

    def must_not_inflate(*args, **kwargs):
        raise AssertionError("inflated a compressed token")

    monkeypatch.setattr(zlib, "decompress", must_not_inflate)
    monkeypatch.setattr(zlib, "decompressobj", must_not_inflate)
    result = await gql(http, ME, headers=bearer(bomb), cookies=False)

    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == BEARER_CHALLENGE
