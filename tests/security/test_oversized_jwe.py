"""Huge encrypted access tokens (parser and memory abuse): with ACCESS_TOKEN_ENCRYPTION=on
a token over 8 KiB is refused with 401 before its header is decoded or anything decrypted."""

from __future__ import annotations

import httpx
import pytest

from auth import token_encryption
from auth.token_encryption import MAX_SEALED_BYTES, EncryptedTokens, UnreadableToken
from core.settings import Settings
from tests.helpers import BEARER_CHALLENGE, ME, TEST_SECRET, Persona, bearer, bearer_login, gql, make_settings
from tests.helpers.sealed import inner_jws


@pytest.fixture
def settings() -> Settings:
    return make_settings(access_token_encryption=True)


def must_not_parse(*args, **kwargs):
    raise AssertionError("parsed an oversized token")


def test_the_envelope_refuses_a_token_over_the_limit_unparsed(monkeypatch):
    sealer = EncryptedTokens([TEST_SECRET])
    over = sealer.seal("a." + "b" * 6200 + ".c")  # correctly sealed, just too long
    assert len(over) > MAX_SEALED_BYTES
    monkeypatch.setattr(token_encryption, "json_b64decode", must_not_parse)
    monkeypatch.setattr(token_encryption.jwe, "decrypt_compact", must_not_parse)
    with pytest.raises(UnreadableToken, match="too long"):
        sealer.open(over)


async def test_an_oversized_encrypted_bearer_token_gets_401_unparsed(
    http: httpx.AsyncClient, alice: Persona, monkeypatch
):
    issued = (await bearer_login(http, "alice"))["accessToken"]
    # The real JWS, sealed with a long run of padding after it: a valid key, a valid tag.
    padded = EncryptedTokens([TEST_SECRET]).seal(inner_jws(issued) + "=" * 6200)
    assert len(padded) > MAX_SEALED_BYTES
    monkeypatch.setattr(token_encryption, "json_b64decode", must_not_parse)
    monkeypatch.setattr(token_encryption.jwe, "decrypt_compact", must_not_parse)

    result = await gql(http, ME, headers=bearer(padded), cookies=False)

    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == BEARER_CHALLENGE
