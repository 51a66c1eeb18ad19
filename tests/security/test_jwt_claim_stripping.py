"""Tokens with claims removed, replaced or stretched in time: every one of
`exp iat sub jti iss aud typ` (and the family `sid`) is required, issuer and audience
must match, and clock skew is tolerated for at most 30 seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine

from auth.strategy.jwt import LEEWAY, REQUIRED_CLAIMS
from tests.helpers import ME, bearer, bearer_login, gql
from tests.helpers.forgery import claims_of, sign_as_server

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def accepted(result) -> bool:
    if result.status == 200 and result.data and result.data["me"]:
        return True
    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body
    return False


@pytest.fixture
async def claims(http: httpx.AsyncClient, alice) -> dict:
    with time_machine.travel(T0, tick=False):
        return claims_of((await bearer_login(http, "alice"))["accessToken"])


async def send(http, app, claims) -> bool:
    return accepted(await gql(http, ME, headers=bearer(sign_as_server(app, claims)), cookies=False))


def test_the_contract_claims_are_all_required():
    assert {"exp", "iat", "sub", "jti", "iss", "aud", "typ"} <= set(REQUIRED_CLAIMS)


def test_leeway_is_at_most_thirty_seconds():
    assert timedelta(0) <= LEEWAY <= timedelta(seconds=30)


async def test_the_unaltered_claims_are_accepted(http, app, claims):
    with time_machine.travel(T0, tick=False):
        assert await send(http, app, claims)


@pytest.mark.parametrize("name", ["exp", "iat", "sub", "jti", "iss", "aud", "typ", "sid"])
async def test_a_missing_claim_is_refused(http, app, claims, name):
    with time_machine.travel(T0, tick=False):
        assert not await send(http, app, {k: v for k, v in claims.items() if k != name})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("iss", "someone-else"),
        ("aud", "another-service"),
        ("aud", ["another-service"]),
        ("sub", 12345),
        ("sub", "00000000-0000-0000-0000-000000000000"),
        ("sid", "00000000-0000-0000-0000-000000000000"),
        ("jti", 7),
        ("exp", "tomorrow"),
    ],
)
async def test_a_wrong_claim_is_refused(http, app, claims, name, value):
    with time_machine.travel(T0, tick=False):
        assert not await send(http, app, {**claims, name: value})


async def test_expired_tokens_get_no_more_than_thirty_seconds_of_grace(http, app, claims):
    expiry = datetime.fromtimestamp(claims["exp"], UTC)
    with time_machine.travel(expiry + timedelta(seconds=31), tick=False):
        assert not await send(http, app, claims)


async def test_a_far_future_expiry_does_not_outlive_its_family(http, app, claims):
    # A long `exp` signed with the real key still dies with its refresh family (logout).
    stretched = {**claims, "exp": int((T0 + timedelta(days=365)).timestamp())}
    with time_machine.travel(T0, tick=False):
        token = sign_as_server(app, stretched)
        assert accepted(await gql(http, ME, headers=bearer(token), cookies=False))
        logout = await gql(http, "mutation { logout }", headers=bearer(token), cookies=False)
        assert logout.data == {"logout": True}, logout.body
        assert not accepted(await gql(http, ME, headers=bearer(token), cookies=False))


async def test_a_token_issued_in_the_future_is_refused(http, app, claims):
    future = int((T0 + timedelta(minutes=5)).timestamp())
    with time_machine.travel(T0, tick=False):
        assert not await send(http, app, {**claims, "iat": future, "exp": future + 600})
