"""Tampering with an encrypted access token: one bit changed in its protected header (the
AAD), IV, ciphertext or tag, or a segment cut short. AES-GCM's tag check (joserfc) refuses
each; the untouched token keeps working (ACCESS_TOKEN_ENCRYPTION=on)."""

from __future__ import annotations

import json

import httpx
import pytest

from core.settings import Settings
from tests.helpers import BEARER_CHALLENGE, ME, Persona, bearer, bearer_login, gql, make_settings
from tests.helpers.sealed import b64, flip_first_byte, jwe_header, replace_segment

SEGMENTS = {"protected header (aad)": 0, "iv": 2, "ciphertext": 3, "tag": 4}


@pytest.fixture
def settings() -> Settings:
    return make_settings(access_token_encryption=True)


def tampered_variants(token: str) -> dict[str, str]:
    variants = {}
    for name, index in SEGMENTS.items():
        if index == 0:  # still a header the server accepts, spelled differently: new AAD
            changed = b64(json.dumps(jwe_header(token), separators=(", ", ": ")).encode())
        else:
            changed = flip_first_byte(token.split(".")[index])
        variants[name] = replace_segment(token, index, changed)
        variants[name + " cut short"] = replace_segment(token, index, token.split(".")[index][:-4])
    return variants


@pytest.mark.parametrize("variant", [*SEGMENTS, *(name + " cut short" for name in SEGMENTS)])
async def test_a_tampered_encrypted_token_gets_401(http: httpx.AsyncClient, alice: Persona, variant: str):
    issued = (await bearer_login(http, "alice"))["accessToken"]
    tampered = tampered_variants(issued)[variant]
    assert tampered != issued

    result = await gql(http, ME, headers=bearer(tampered), cookies=False)

    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == BEARER_CHALLENGE
    assert (await gql(http, ME, headers=bearer(issued), cookies=False)).status == 200
