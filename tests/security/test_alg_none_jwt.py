"""Unsigned JWTs (`alg: none` in any spelling): refused with 401 `invalid_token`."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import ME, bearer, bearer_login, gql
from tests.helpers.forgery import claims_of, header_of, raw_token

INVALID_TOKEN = 'Bearer realm="gatehouse", error="invalid_token"'


def assert_rejected(result) -> None:
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == INVALID_TOKEN
    assert result.data is None


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
@pytest.mark.parametrize("keep_signature", [False, True], ids=["empty-signature", "original-signature"])
async def test_unsigned_tokens_are_refused(http: httpx.AsyncClient, alice, alg, keep_signature):
    genuine = (await bearer_login(http, "alice"))["accessToken"]
    header = {**header_of(genuine), "alg": alg}
    signature = b""
    forged = raw_token(header, claims_of(genuine), signature)
    if keep_signature:
        forged = forged.rsplit(".", 1)[0] + "." + genuine.rsplit(".", 1)[1]

    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))


async def test_a_token_without_a_signature_part_is_refused(http: httpx.AsyncClient, alice):
    genuine = (await bearer_login(http, "alice"))["accessToken"]
    two_parts = genuine.rsplit(".", 1)[0]
    assert_rejected(await gql(http, ME, headers=bearer(two_parts), cookies=False))


async def test_the_genuine_token_works(http: httpx.AsyncClient, alice):
    # The control: the forged variants above differ from this one only in the attack.
    genuine = (await bearer_login(http, "alice"))["accessToken"]
    result = await gql(http, ME, headers=bearer(genuine), cookies=False)
    assert result.data["me"]["username"] == "alice"
