"""Huge bearer tokens (parser and memory abuse): anything over 8 KB is refused with 401
before any JWT parsing happens."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest

from auth.strategy.jwt import MAX_TOKEN_BYTES, InvalidAccessToken, JWTStrategy
from tests.helpers import ME, gql, make_settings
from tests.helpers.forgery import b64, claims_of, fixed_key_ring, header_of, raw_token

# The configured algorithm's ring (EdDSA by default), one fresh key, no database.
RING = fixed_key_ring(make_settings().jwt_algorithm)


def strategy() -> JWTStrategy:
    return JWTStrategy(make_settings(), RING)


def oversized() -> str:
    return raw_token({"alg": "HS256", "typ": "JWT"}, {"pad": "x" * MAX_TOKEN_BYTES}, b"s" * 32)


def signed_token_of_length(length: int) -> str:
    """A token the server issued, padded (and signed again with its key) to exactly `length`."""
    issued, _ = strategy().issue(str(uuid.uuid4()), str(uuid.uuid4()))
    claims, header = claims_of(issued), header_of(issued)
    # base64url reaches three lengths in four: a second padding, in the header, shifts it.
    for header_pad in range(4):
        pad = max(0, (length - len(issued)) * 3 // 4 - 64)  # a little short of it
        while True:
            claims["pad"] = "x" * pad
            headers = {**header, "pad": "y" * header_pad}
            token = jwt.encode(claims, RING.signer.key, algorithm=RING.signer.algorithm, headers=headers)
            if len(token) >= length:
                break
            pad += 1
        if len(token) == length:
            return token
    raise AssertionError(f"no token of {length} characters")


def test_a_token_of_8_kib_verifies_and_one_character_more_is_refused_unparsed(monkeypatch):
    jwts = strategy()
    at_the_limit, over = signed_token_of_length(8 * 1024), signed_token_of_length(8 * 1024 + 1)
    assert jwts.verify(at_the_limit).user_id == claims_of(at_the_limit)["sub"]
    # One character more and otherwise as good: correctly signed, every claim in place.
    claims = claims_of(over)
    verifying = RING.key_for(RING.signer.kid)
    assert verifying is not None
    assert jwt.decode(
        over, verifying.key, algorithms=[verifying.algorithm], audience=claims["aud"], issuer=claims["iss"]
    )

    def must_not_parse(*args, **kwargs):
        raise AssertionError("parsed an oversized token")

    monkeypatch.setattr(jwt, "get_unverified_header", must_not_parse)
    monkeypatch.setattr(jwt, "decode", must_not_parse)
    with pytest.raises(InvalidAccessToken, match="too long"):
        jwts.verify(over)


def test_the_strategy_refuses_before_parsing(monkeypatch):
    def must_not_parse(*args, **kwargs):
        raise AssertionError("parsed an oversized token")

    monkeypatch.setattr(jwt, "get_unverified_header", must_not_parse)
    monkeypatch.setattr(jwt, "decode", must_not_parse)

    with pytest.raises(InvalidAccessToken):
        strategy().verify(oversized())


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
