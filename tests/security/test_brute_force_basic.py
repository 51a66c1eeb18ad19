"""Password guessing through HTTP Basic headers, and through `changePassword`.

A Basic header that misses the verified-header cache is a password attempt: it shares
the account and IP counters with `login`. Over the limit the request is refused before
anything executes: 429, `Retry-After`, `RATE_LIMITED`, and no Basic challenge (a
browser must not be invited to retry with a login dialog).
"""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from tests.helpers import (
    LOGIN,
    ME,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    CountingHasher,
    OpenApp,
    basic,
    from_ip,
    gql,
    login_variables,
    make_persona,
    make_settings,
)

LIMITED = make_settings(login_limit_per_account="3/minute", login_limit_per_ip="10/minute")


@pytest.fixture
def settings() -> Settings:
    return LIMITED


def assert_rate_limited_before_execution(result) -> None:
    assert result.status == 429, result.body
    assert "data" not in result.body, result.body  # refused before anything executed
    assert result.codes == ["RATE_LIMITED"]
    retry_after = result.errors[0]["extensions"]["retryAfter"]
    assert 1 <= retry_after <= 60
    assert result.headers["retry-after"] == str(retry_after)
    assert "www-authenticate" not in result.headers
    assert result.headers["cache-control"] == "no-store"


async def test_wrong_basic_headers_are_limited(open_app: OpenApp):
    hasher = CountingHasher()
    client = await open_app(LIMITED, hasher=hasher)
    await make_persona(client, "alice")
    for _ in range(3):
        result = await gql(client, ME, headers=basic("alice", OTHER_PASSWORD), cookies=False)
        assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body
    checks = hasher.checks

    result = await gql(client, ME, headers=basic("alice", STRONG_PASSWORD), cookies=False)

    assert_rate_limited_before_execution(result)
    assert hasher.checks == checks  # refused before bcrypt


async def test_basic_and_login_share_the_account_counter(http: httpx.AsyncClient, alice):
    for _ in range(2):
        result = await gql(http, LOGIN, login_variables("alice", OTHER_PASSWORD), cookies=False)
        assert result.codes == ["UNAUTHENTICATED"]
    result = await gql(http, ME, headers=basic("ALICE", OTHER_PASSWORD), cookies=False)
    assert result.status == 401

    over = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)
    assert over.status == 429 and over.codes == ["RATE_LIMITED"], over.body
    over = await gql(http, ME, headers=basic("alice", STRONG_PASSWORD), cookies=False)
    assert_rate_limited_before_execution(over)


async def test_basic_guesses_count_against_the_client_ip(http: httpx.AsyncClient):
    attacker = from_ip("203.0.113.77")
    for n in range(10):
        result = await gql(http, ME, headers={**basic(f"user{n}", OTHER_PASSWORD), **attacker}, cookies=False)
        assert result.status == 401, result.body

    over = await gql(http, ME, headers={**basic("other", OTHER_PASSWORD), **attacker}, cookies=False)
    assert_rate_limited_before_execution(over)


async def test_cached_basic_headers_do_not_count(http: httpx.AsyncClient, alice):
    good = basic("alice", STRONG_PASSWORD)
    for _ in range(12):  # more than either limit; only the first is a real verification
        result = await gql(http, ME, headers=good, cookies=False)
        assert result.status == 200 and result.data["me"]["username"] == "alice", result.body
    for _ in range(3):
        result = await gql(http, LOGIN, login_variables("alice", OTHER_PASSWORD), cookies=False)
        assert result.codes == ["UNAUTHENTICATED"], result.body

    assert (await gql(http, LOGIN, login_variables("alice", OTHER_PASSWORD), cookies=False)).status == 429


CHANGE_PASSWORD = """mutation($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new) }"""


async def test_guessing_the_current_password_through_change_password_is_limited(open_app: OpenApp):
    client = await open_app(LIMITED)
    await make_persona(client, "alice")
    login = await gql(client, LOGIN, login_variables("alice", STRONG_PASSWORD, "COOKIE"))
    assert login.status == 200, login.body
    variables = {"current": "wrong guess number one", "new": "a brand new passphrase 42"}
    for _ in range(3):
        result = await gql(client, CHANGE_PASSWORD, variables)
        assert result.codes == ["BAD_USER_INPUT"], result.body

    result = await gql(client, CHANGE_PASSWORD, {**variables, "current": STRONG_PASSWORD})

    assert result.status == 429 and result.codes == ["RATE_LIMITED"], result.body
    assert int(result.headers["retry-after"]) == result.errors[0]["extensions"]["retryAfter"]
