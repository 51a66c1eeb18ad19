"""Token-form confusion: with ACCESS_TOKEN_ENCRYPTION=on, the signed JWT taken out of its
envelope (or one from an instance without encryption) is refused though its signature is
good; with encryption off, a JWE around a good JWT is refused. A deployment reads access
tokens in the one form it issues."""

from __future__ import annotations

import httpx

from tests.helpers import (
    BEARER_CHALLENGE,
    ME,
    TEST_SECRET,
    OpenApp,
    bearer,
    bearer_login,
    gql,
    make_persona,
    make_settings,
)
from tests.helpers.sealed import inner_jws


async def refused(http: httpx.AsyncClient, token: str) -> None:
    result = await gql(http, ME, headers=bearer(token), cookies=False)
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == BEARER_CHALLENGE


async def test_a_bare_jws_is_refused_when_encryption_is_on(open_app: OpenApp):
    http = await open_app(make_settings(access_token_encryption=True))
    await make_persona(http, "alice")
    issued = (await bearer_login(http, "alice"))["accessToken"]
    assert (await gql(http, ME, headers=bearer(issued), cookies=False)).status == 200

    await refused(http, inner_jws(issued))


async def test_a_jwe_is_refused_when_encryption_is_off(open_app: OpenApp):
    from auth.token_encryption import EncryptedTokens

    http = await open_app(make_settings(access_token_encryption=False))
    await make_persona(http, "alice")
    issued = (await bearer_login(http, "alice"))["accessToken"]
    assert issued.count(".") == 2
    assert (await gql(http, ME, headers=bearer(issued), cookies=False)).status == 200

    await refused(http, EncryptedTokens([TEST_SECRET]).seal(issued))
