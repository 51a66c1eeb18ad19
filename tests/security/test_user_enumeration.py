"""Account enumeration: telling whether an account exists (or is disabled) from a failed
login. Unknown user, wrong password and disabled account get the same code, message,
status and headers, and each costs exactly one password check (proved with a counting
hasher, not with timings)."""

from __future__ import annotations

import httpx
import pytest

from models import User
from tests.helpers import (
    LOGIN,
    ME,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    CountingHasher,
    OpenApp,
    basic,
    gql,
    login_variables,
    make_persona,
    make_settings,
)


@pytest.fixture
async def counted(open_app: OpenApp) -> tuple[httpx.AsyncClient, CountingHasher]:
    hasher = CountingHasher()
    client = await open_app(make_settings(), hasher=hasher)
    await make_persona(client, "alice")
    dormant = await make_persona(client, "dormant")
    await User.filter(id=dormant.id).update(is_active=False)
    return client, hasher


CASES = {
    "unknown-user": ("nobody_here", STRONG_PASSWORD),
    "unknown-email": ("nobody@example.com", STRONG_PASSWORD),
    "wrong-password": ("alice", OTHER_PASSWORD),
    "disabled-account": ("dormant", STRONG_PASSWORD),
}


def comparable(result) -> tuple:
    headers = {k: v for k, v in result.headers.items() if k != "date"}
    return result.status, result.body, headers


async def test_every_failed_login_looks_the_same(counted):
    client, _ = counted
    answers = {
        name: await gql(client, LOGIN, login_variables(login, password), cookies=False)
        for name, (login, password) in CASES.items()
    }

    first = answers["unknown-user"]
    assert first.status == 401
    assert first.codes == ["UNAUTHENTICATED"]
    assert first.errors[0]["message"] == "Invalid login or password."
    for name, answer in answers.items():
        assert comparable(answer) == comparable(first), name


@pytest.mark.parametrize("case", CASES)
async def test_each_failed_login_checks_exactly_one_password(counted, case):
    client, hasher = counted
    before = dict(hasher.calls)
    login, password = CASES[case]

    await gql(client, LOGIN, login_variables(login, password), cookies=False)

    spent = {k: hasher.calls[k] - before[k] for k in before}
    assert spent["verify"] + spent["verify_dummy"] == 1, spent
    assert spent["hash"] == 0
    if case.startswith("unknown"):
        assert spent["verify_dummy"] == 1


async def test_every_failed_basic_header_looks_the_same(counted):
    client, hasher = counted
    answers = {}
    for name, (login, password) in CASES.items():
        before = hasher.checks
        answers[name] = await gql(client, ME, headers=basic(login, password), cookies=False)
        assert hasher.checks - before == 1, name

    first = answers["unknown-user"]
    assert first.status == 401
    assert first.headers["www-authenticate"] == 'Basic realm="gatehouse", charset="UTF-8"'
    for name, answer in answers.items():
        assert comparable(answer) == comparable(first), name


async def test_a_disabled_account_answers_the_same_to_right_and_wrong_passwords(counted):
    client, _ = counted
    right = await gql(client, LOGIN, login_variables("dormant", STRONG_PASSWORD), cookies=False)
    wrong = await gql(client, LOGIN, login_variables("dormant", OTHER_PASSWORD), cookies=False)
    assert comparable(right) == comparable(wrong)
