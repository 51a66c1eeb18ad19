"""`register` through the real app: both transports, every input rule, uniqueness under races."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from models import User
from tests.helpers import (
    ME,
    REGISTER,
    STRONG_PASSWORD,
    Persona,
    bearer,
    cookie_attributes,
    gql,
    session_cookie_value,
    set_cookie_headers,
)


def _input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "username": "carol",
        "email": "carol@example.com",
        "password": STRONG_PASSWORD,
    }
    values.update(overrides)
    return {"input": values}


async def test_register_with_cookie_sets_a_session_cookie_and_signs_in(http):
    result = await gql(http, REGISTER, _input(transport="COOKIE"))

    assert result.status == 200, result.body
    payload = result.data["register"]
    assert payload["user"]["username"] == "carol"
    assert payload["user"]["email"] == "carol@example.com"
    assert payload["user"]["roles"] == []
    assert payload["accessToken"] is None
    assert payload["refreshToken"] is None
    assert payload["tokenType"] is None
    attributes = cookie_attributes(result)
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "lax"
    assert attributes["path"] == "/"
    assert "secure" not in attributes  # plain http outside production
    assert session_cookie_value(result)

    me = await gql(http, ME)
    assert me.data["me"]["username"] == "carol"


async def test_register_defaults_to_cookie(http):
    result = await gql(http, REGISTER, _input())
    assert result.status == 200, result.body
    assert session_cookie_value(result)
    assert result.data["register"]["accessToken"] is None


async def test_register_with_bearer_returns_tokens_and_no_cookie(http):
    result = await gql(http, REGISTER, _input(transport="BEARER"))

    assert result.status == 200, result.body
    payload = result.data["register"]
    assert payload["accessToken"]
    assert payload["refreshToken"]
    assert payload["tokenType"] == "Bearer"
    assert 0 < payload["expiresIn"] <= 3600
    assert set_cookie_headers(result) == []
    me = await gql(http, ME, headers=bearer(payload["accessToken"]), cookies=False)
    assert me.data["me"]["username"] == "carol"


def _assert_bad_input(result: Any, *fields: str) -> dict[str, str]:
    assert result.status == 200, result.body
    assert result.data is None, result.body
    assert result.codes == ["BAD_USER_INPUT"], result.body
    named: dict[str, str] = result.errors[0]["extensions"]["fields"]
    assert set(named) == set(fields), result.body
    assert all(isinstance(message, str) and message for message in named.values())
    return named


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", 5),
        ("email", ["carol@example.com"]),
        ("password", {"text": STRONG_PASSWORD}),
        ("transport", "CARRIER_PIGEON"),
    ],
)
async def test_wrong_types_in_variables_name_the_field(http, field: str, value: Any):
    result = await gql(http, REGISTER, _input(**{field: value}))
    _assert_bad_input(result, field)


async def test_missing_field_in_variables_names_it(http):
    variables = _input()
    del variables["input"]["password"]
    result = await gql(http, REGISTER, variables)
    _assert_bad_input(result, "password")


async def test_variable_errors_never_echo_the_password(http):
    variables = _input(username=5)
    result = await gql(http, REGISTER, variables)
    _assert_bad_input(result, "username")
    del variables["input"]["username"]
    missing = await gql(http, REGISTER, variables)
    _assert_bad_input(missing, "username")
    for answer in (result, missing):
        assert STRONG_PASSWORD not in str(answer.body)


async def test_empty_strings_are_refused_field_by_field(http):
    result = await gql(http, REGISTER, _input(username="", email="", password=""))
    _assert_bad_input(result, "username", "email", "password")
    assert await User.all().count() == 0


@pytest.mark.parametrize(
    "username",
    [
        "ab",  # too short
        "a" * 33,  # too long
        "carol!",
        "car ol",
        "carol@home",
        "çarol",  # letters outside A-Z
        "carol\n",
    ],
)
async def test_bad_usernames(http, username: str):
    result = await gql(http, REGISTER, _input(username=username))
    _assert_bad_input(result, "username")


@pytest.mark.parametrize("username", ["abc", "a" * 32, "Carol_1.x-y"])
async def test_usernames_at_the_limits_are_accepted(http, username: str):
    result = await gql(http, REGISTER, _input(username=username, transport="BEARER"))
    assert result.status == 200, result.body
    assert result.data["register"]["user"]["username"] == username


@pytest.mark.parametrize(
    "email", ["carol", "carol@", "@example.com", "carol@@example.com", "carol@example", "a b@example.com"]
)
async def test_invalid_emails(http, email: str):
    result = await gql(http, REGISTER, _input(email=email))
    _assert_bad_input(result, "email")


@pytest.mark.parametrize(
    "password",
    [
        "Xq7#kP2",  # 7 characters
        "Zebra-quartz-Lantern-" * 12 + "abcde",  # 257 characters
        "password123",
        "qwertyuiop",
        "carolcarol",  # built from the username
    ],
)
async def test_bad_passwords(http, password: str):
    result = await gql(http, REGISTER, _input(password=password))
    _assert_bad_input(result, "password")
    assert await User.all().count() == 0


async def test_password_length_counts_characters_not_bytes(http):
    # 256 characters, 512 bytes in UTF-8: at the limit, so accepted.
    password = "ŵøřđ-ŝàłţ-" * 25 + "ŵøřđ-ŝ"
    assert len(password) == 256
    result = await gql(http, REGISTER, _input(password=password, transport="BEARER"))
    assert result.status == 200, result.body


async def test_every_broken_rule_is_reported_at_once(http):
    result = await gql(http, REGISTER, _input(username="x", email="nope", password="short"))
    _assert_bad_input(result, "username", "email", "password")


# A taken username or email gets one answer on both fields, whichever was taken
# (tests/security/test_registration_enumeration.py).
TAKEN = "This username or email is already registered."


async def test_taken_username_ignores_case(http, alice: Persona):
    result = await gql(http, REGISTER, _input(username="Alice", email="other@example.com"))
    assert _assert_bad_input(result, "username", "email") == {"username": TAKEN, "email": TAKEN}
    assert result.errors[0]["message"] == TAKEN
    assert await User.filter(username_key="alice").count() == 1


async def test_taken_email_ignores_case(http, alice: Persona):
    result = await gql(http, REGISTER, _input(username="someone", email="ALICE@Example.COM"))
    assert _assert_bad_input(result, "username", "email") == {"username": TAKEN, "email": TAKEN}
    assert await User.all().count() == 1


async def test_concurrent_registrations_of_one_username_create_one_account(http):
    async def attempt(index: int) -> Any:
        return await gql(
            http,
            REGISTER,
            _input(
                username="racer" if index % 2 else "RACER",
                email=f"racer{index}@example.com",
                transport="BEARER",
            ),
            cookies=False,
        )

    results = await asyncio.gather(*(attempt(i) for i in range(20)))

    assert all(r.status == 200 for r in results), [r.body for r in results if r.status != 200]
    winners = [r for r in results if not r.errors]
    losers = [r for r in results if r.errors]
    assert len(winners) == 1
    assert len(losers) == 19
    for loser in losers:
        assert loser.codes == ["BAD_USER_INPUT"], loser.body
        assert "username" in loser.errors[0]["extensions"]["fields"], loser.body
    assert await User.filter(username_key="racer").count() == 1
    assert await User.all().count() == 1


async def test_concurrent_registrations_of_one_email_create_one_account(http):
    results = await asyncio.gather(
        *(
            gql(
                http,
                REGISTER,
                _input(username=f"racer{i}", email="Same@example.com", transport="BEARER"),
                cookies=False,
            )
            for i in range(10)
        )
    )
    assert sum(1 for r in results if not r.errors) == 1
    for loser in (r for r in results if r.errors):
        assert loser.status == 200 and loser.codes == ["BAD_USER_INPUT"], loser.body
        assert "email" in loser.errors[0]["extensions"]["fields"]
    assert await User.all().count() == 1
