"""Password guessing through the `login` mutation: limited per account and per client IP.

Every attempt counts before the password is checked; over a limit the answer is
`RATE_LIMITED` with `retryAfter` (429 and `Retry-After`). Waits grow with repeated
failures but never past the longest window, and a success clears the account.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import time_machine

from core.settings import Settings
from tests.helpers import (
    LOGIN,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    CountingHasher,
    OpenApp,
    from_ip,
    gql,
    login_variables,
    make_persona,
    make_settings,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LIMITED = make_settings(
    login_limit_per_account="3/minute;5/5 minutes;7/15 minutes",
    login_limit_per_ip="10/minute",
)


async def attempt(
    client: httpx.AsyncClient, login: str, password: str, headers: dict[str, str] | None = None
):
    """One login attempt over HTTP, without the cookie jar."""
    return await gql(client, LOGIN, login_variables(login, password), headers=headers, cookies=False)


def assert_rate_limited(result, longest: int = 900) -> int:
    """The contract's answer to an attempt over the limit; returns `retryAfter`."""
    assert result.status == 429, result.body
    assert result.data is None
    assert result.codes == ["RATE_LIMITED"]
    retry_after = result.errors[0]["extensions"]["retryAfter"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= longest
    assert result.headers["retry-after"] == str(retry_after)
    return retry_after


def assert_bad_login(result) -> None:
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]


@pytest.fixture
def settings() -> Settings:
    return LIMITED


async def test_account_is_limited_and_over_the_limit_no_password_is_checked(open_app: OpenApp):
    hasher = CountingHasher()
    client = await open_app(LIMITED, hasher=hasher)
    await make_persona(client, "alice")
    for _ in range(3):
        assert_bad_login(await attempt(client, "alice", OTHER_PASSWORD))
    checks = hasher.checks

    # Even the right password is refused now, and bcrypt does not run for it.
    refused = await attempt(client, "alice", STRONG_PASSWORD)

    retry_after = assert_rate_limited(refused)
    assert retry_after <= 60
    assert hasher.checks == checks
    assert "www-authenticate" not in refused.headers


async def test_account_limit_holds_whatever_ip_the_guesses_come_from(http: httpx.AsyncClient, alice):
    for n in range(3):
        assert_bad_login(await attempt(http, "alice", OTHER_PASSWORD, from_ip(f"203.0.113.{n}")))

    assert_rate_limited(await attempt(http, "alice", OTHER_PASSWORD, from_ip("198.51.100.7")))


async def test_account_key_ignores_case_and_surrounding_spaces(http: httpx.AsyncClient, alice):
    for login in ("alice", "ALICE", " Alice "):
        assert_bad_login(await attempt(http, login, OTHER_PASSWORD))

    assert_rate_limited(await attempt(http, "aLiCe", OTHER_PASSWORD))


async def test_unknown_accounts_are_limited_like_real_ones(http: httpx.AsyncClient):
    for _ in range(3):
        assert_bad_login(await attempt(http, "nobody", OTHER_PASSWORD))

    assert_rate_limited(await attempt(http, "nobody", OTHER_PASSWORD))


async def test_ip_limit_holds_across_accounts(http: httpx.AsyncClient):
    attacker = from_ip("203.0.113.50")
    for n in range(10):
        assert_bad_login(await attempt(http, f"user{n}", OTHER_PASSWORD, attacker))

    assert_rate_limited(await attempt(http, "someone_else", OTHER_PASSWORD, attacker))
    # Another client is not affected.
    assert_bad_login(await attempt(http, "someone_else", OTHER_PASSWORD, from_ip("198.51.100.1")))


async def test_spoofed_forwarded_for_from_an_untrusted_peer_does_not_evade_the_ip_limit(open_app: OpenApp):
    client = await open_app(LIMITED.with_(trusted_proxies=()), client=("192.0.2.9", 40000))
    for n in range(10):
        assert_bad_login(await attempt(client, f"user{n}", OTHER_PASSWORD, from_ip(f"10.0.0.{n}")))

    assert_rate_limited(await attempt(client, "user_x", OTHER_PASSWORD, from_ip("10.9.9.9")))


async def test_an_aliased_login_counts_like_any_other(http: httpx.AsyncClient, alice):
    aliased = """mutation($input: LoginInput!) { guess: login(input: $input) { accessToken } }"""
    for _ in range(3):
        result = await gql(http, aliased, login_variables("alice", OTHER_PASSWORD), cookies=False)
        assert_bad_login(result)

    result = await gql(http, aliased, login_variables("alice", STRONG_PASSWORD), cookies=False)
    assert_rate_limited(result)


async def test_a_success_clears_the_account_counter(http: httpx.AsyncClient, alice):
    for _ in range(2):
        assert_bad_login(await attempt(http, "alice", OTHER_PASSWORD))
    ok = await attempt(http, "alice", STRONG_PASSWORD)
    assert ok.status == 200 and ok.data["login"]["accessToken"], ok.body

    # A fresh allowance of three guesses.
    for _ in range(3):
        assert_bad_login(await attempt(http, "alice", OTHER_PASSWORD))
    assert_rate_limited(await attempt(http, "alice", OTHER_PASSWORD))


async def test_waits_grow_with_repeated_failures_but_never_lock_the_account_for_good(
    http: httpx.AsyncClient, alice
):
    waits: list[int] = []
    with time_machine.travel(T0, tick=False) as clock:
        while len(waits) < 3:
            # Different IPs, so only the account's windows are in play.
            result = await attempt(http, "alice", OTHER_PASSWORD, from_ip(f"203.0.113.{len(waits)}"))
            if result.status == 429:
                wait = assert_rate_limited(result)
                waits.append(wait)
                clock.shift(wait + 1)
            else:
                assert_bad_login(result)
        # 3/minute, then 5 in 5 minutes, then 7 in 15 minutes.
        assert waits[0] <= 60 < waits[1] <= 300 < waits[2] <= 900, waits

        ok = await attempt(http, "alice", STRONG_PASSWORD)
        assert ok.status == 200 and ok.data["login"]["accessToken"], ok.body


async def test_attempts_refused_while_blocked_do_not_extend_the_wait(http: httpx.AsyncClient, alice):
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(3):
            assert_bad_login(await attempt(http, "alice", OTHER_PASSWORD))
        first_wait = assert_rate_limited(await attempt(http, "alice", OTHER_PASSWORD))
        for _ in range(20):
            assert assert_rate_limited(
                await attempt(http, "alice", OTHER_PASSWORD, from_ip("198.51.100.2"))
            ) == (first_wait)

        clock.shift(first_wait + 1)
        ok = await attempt(http, "alice", STRONG_PASSWORD)
        assert ok.status == 200, ok.body


async def test_default_limits_escalate_and_cap_at_fifteen_minutes():
    from auth.ratelimit import LoginLimiter

    limiter = LoginLimiter(make_settings(redis_url=None))
    windows = [(item.amount, item.get_expiry()) for item in limiter.per_account]
    assert windows == [(5, 60), (10, 300), (20, 900)]
    assert limiter.longest_wait == 900
