"""Harvesting usernames and addresses through `register`: the answer named the taken field
and a taken one came back without hashing the password (8 ms against 80 ms). While
`register` signs the new account in, a taken address must fail, so the defence is a
trade-off: one message whatever was taken, the same password work on both paths, and a
per-IP limit that makes harvesting slow (10 a minute, 30 an hour by default)."""

from __future__ import annotations

import time_machine
from limits import parse_many

from auth.ratelimit import LoginLimiter
from core.errors import RateLimited
from core.settings import Settings
from tests.helpers import (
    REGISTER,
    STRONG_PASSWORD,
    CountingHasher,
    OpenApp,
    from_ip,
    gql,
    make_persona,
    make_settings,
)

TAKEN = "This username or email is already registered."


def register_variables(username: str, email: str) -> dict[str, object]:
    return {
        "input": {"username": username, "email": email, "password": STRONG_PASSWORD, "transport": "BEARER"}
    }


async def test_a_taken_username_and_a_taken_email_get_one_answer(open_app: OpenApp):
    client = await open_app(make_settings())
    await make_persona(client, "alice")
    cases = {
        "username": ("Alice", "fresh@example.com"),
        "email": ("fresh", "ALICE@example.com"),
        "both": ("alice", "alice@example.com"),
    }

    answers = {}
    for name, (username, email) in cases.items():
        result = await gql(client, REGISTER, register_variables(username, email), cookies=False)
        assert result.status == 200 and result.codes == ["BAD_USER_INPUT"], result.body
        answers[name] = result.body

    assert answers["username"] == answers["email"] == answers["both"]
    assert answers["both"]["errors"][0]["extensions"]["fields"] == {"username": TAKEN, "email": TAKEN}


async def test_a_taken_account_costs_the_same_password_work_as_a_new_one(open_app: OpenApp):
    hasher = CountingHasher()
    client = await open_app(make_settings(), hasher=hasher)
    await make_persona(client, "alice")

    for username, email in [
        ("fresh", "alice@example.com"),
        ("alice", "fresh@example.com"),
        ("new", "n@example.com"),
    ]:
        before = hasher.calls["hash"]
        await gql(client, REGISTER, register_variables(username, email), cookies=False)
        assert hasher.calls["hash"] - before == 1, (username, email)


def test_the_default_limit_allows_ten_a_minute_and_thirty_an_hour():
    allowed = {(item.amount, item.get_expiry()) for item in parse_many(Settings.register_limit_per_ip)}
    assert allowed == {(10, 60), (30, 3600)}


async def test_one_client_registers_at_most_thirty_accounts_an_hour(clean_backends):
    limiter = LoginLimiter(make_settings(register_limit_per_ip=Settings.register_limit_per_ip))
    with time_machine.travel(1_900_000_000, tick=False) as clock:
        for minute in range(3):
            for _ in range(10):
                await limiter.register_attempt("203.0.113.7")
            try:
                await limiter.register_attempt("203.0.113.7")
            except RateLimited as refused:
                assert refused.retry_after <= 60
            else:
                raise AssertionError(f"an eleventh registration in minute {minute} was allowed")
            clock.shift(61)
        try:
            await limiter.register_attempt("203.0.113.7")
        except RateLimited as refused:
            assert refused.retry_after > 60 * 50  # the hour window, not the minute one
        else:
            raise AssertionError("a thirty-first registration within the hour was allowed")
        await limiter.register_attempt("198.51.100.4")  # other clients are not affected


async def test_the_default_limit_holds_through_the_server(open_app: OpenApp):
    client = await open_app(make_settings(register_limit_per_ip=Settings.register_limit_per_ip))
    harvester = from_ip("203.0.113.8")
    for n in range(10):
        probe = await gql(
            client, REGISTER, register_variables(f"probe{n}", f"victim{n}@example.com"), headers=harvester
        )
        assert probe.status == 200, probe.body
    over = await gql(
        client, REGISTER, register_variables("probe10", "victim10@example.com"), headers=harvester
    )
    assert over.status == 429 and over.codes == ["RATE_LIMITED"], over.body
