"""Huge bearer tokens (parser and memory abuse): anything over 8 KB is refused with 401
before any JWT parsing happens."""

from __future__ import annotations

import httpx
import jwt
import pytest

from auth.strategy.jwt import MAX_TOKEN_BYTES, InvalidAccessToken, JWTStrategy
from tests.helpers import ME, gql, make_settings
from tests.helpers.forgery import b64, raw_token


def oversized() -> str:
    return raw_token({"alg": "HS256", "typ": "JWT"}, {"pad": "x" * MAX_TOKEN_BYTES}, b"s" * 32)


def test_the_limit_is_8_kib():
    assert MAX_TOKEN_BYTES == 8 * 1024


def test_the_strategy_refuses_before_parsing(monkeypatch):
    def must_not_parse(*args, **kwargs):
        raise AssertionError("parsed an oversized token")

    monkeypatch.setattr(jwt, "get_unverified_header", must_not_parse)
    monkeypatch.setattr(jwt, "decode", must_not_parse)

    with pytest.raises(InvalidAccessToken):
        JWTStrategy(make_settings()).verify(oversized())


async def test_an_oversized_bearer_token_gets_401(http: httpx.AsyncClient):
    token = oversized()
    assert len(token) > MAX_TOKEN_BYTES

    result = await gql(http, ME, headers={"Authorization": f"Bearer {token}"}, cookies=False)

    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == 'Bearer realm="gatehouse", error="invalid_token"'


async def test_a_huge_header_segment_alone_is_refused(http: httpx.AsyncClient):
    token = b64(b'{"alg":"HS256","kid":"' + b"k" * 10_000 + b'"}') + ".e30.sig"
    result = await gql(http, ME, headers={"Authorization": f"Bearer {token}"}, cookies=False)
    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body
