"""Logins the database cannot hold: a lone surrogate (not encodable as UTF-8, both
databases) or a NUL (PostgreSQL refuses it in text) in `login` or in a Basic header made
the lookup fail with a 500. No account can have such a name or address, so these are
ordinary failed logins: the same answer, the same single dummy check. The service holds
this on its own, whatever the GraphQL layer does in front of it."""

from __future__ import annotations

import json

import httpx
import pytest

from auth.backend import AuthBackend
from auth.strategy.password import find_user_by_login
from core.errors import GENERIC_LOGIN_FAILURE, Unauthenticated
from services import accounts
from tests.conftest import (
    GRAPHQL,
    LOGIN,
    ME,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    gql,
    make_persona,
    make_settings,
)
from tests.security.conftest import CountingHasher, OpenApp, basic, login_variables

UNSTORABLE = {
    "lone-surrogate": "al\ud800ice",
    "lone-surrogate-email": "alice@exam\udfffple.com",
    "nul": "al\x00ice",
    "nul-email": "alice@example.com\x00",
    "only-nul": "\x00",
}
IN_A_HEADER = {k: v for k, v in UNSTORABLE.items() if "surrogate" not in k}  # UTF-8 cannot carry those


@pytest.fixture
async def served(open_app: OpenApp) -> tuple[httpx.AsyncClient, CountingHasher]:
    hasher = CountingHasher()
    client = await open_app(make_settings(), hasher=hasher)
    await make_persona(client, "alice")
    return client, hasher


@pytest.mark.parametrize("login", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_the_lookup_finds_no_one(served, login):
    assert await find_user_by_login(login) is None


@pytest.mark.parametrize("login", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_the_login_service_fails_like_an_unknown_user(served, login):
    _, hasher = served
    backend = AuthBackend.build(make_settings(redis_url=None), hasher=hasher)
    before = dict(hasher.calls)
    with pytest.raises(Unauthenticated) as refused:
        await accounts.login(backend, login, STRONG_PASSWORD)
    assert refused.value.message == GENERIC_LOGIN_FAILURE
    assert hasher.calls["verify_dummy"] - before["verify_dummy"] == 1
    assert hasher.calls["verify"] == before["verify"]


@pytest.mark.parametrize("login", IN_A_HEADER.values(), ids=IN_A_HEADER.keys())
async def test_a_basic_header_fails_like_an_unknown_user(served, login):
    client, hasher = served
    unknown = await gql(client, ME, headers=basic("nobody_here", OTHER_PASSWORD), cookies=False)
    before = hasher.checks

    result = await gql(client, ME, headers=basic(login, OTHER_PASSWORD), cookies=False)

    assert result.status == 401, result.body
    assert result.body == unknown.body
    assert result.headers["www-authenticate"] == unknown.headers["www-authenticate"]
    assert hasher.checks - before == 1


@pytest.mark.parametrize("login", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_the_login_mutation_never_answers_500(served, login):
    """Whichever layer refuses it: a failed login, or the request's input check."""
    client, _ = served
    body = json.dumps({"query": LOGIN, "variables": login_variables(login, STRONG_PASSWORD)})
    response = await client.post(GRAPHQL, content=body, headers={"content-type": "application/json"})
    answer = response.json()
    codes = [e["extensions"]["code"] for e in answer["errors"]]
    assert response.status_code in (200, 400, 401), answer  # 400: refused before execution
    assert codes in (["UNAUTHENTICATED"], ["BAD_USER_INPUT"]), answer
