"""Input rules: usernames, emails, and passwords (length in characters, strength, personal data)."""

from __future__ import annotations

import random

import pytest
from zxcvbn import zxcvbn

from auth.passwords import PASSWORD_INPUT_MAX
from services.validation import (
    check_password,
    check_password_length,
    check_username,
    normalise_email,
)
from tests.helpers import STRONG_PASSWORD

BUILT_FROM_PERSONAL = "built from your username or email"


def emoji_password(length: int, seed: int = 7) -> str:
    """`length` varied emoji: 4 bytes each in UTF-8, and not guessable."""
    pool = [chr(c) for c in range(0x1F400, 0x1F4FF)]
    rng = random.Random(seed)
    return "".join(rng.choice(pool) for _ in range(length))


# -- usernames ----------------------------------------------------------------------


@pytest.mark.parametrize("username", ["abc", "a" * 32, "Alice", "alice_b.c-d", "A1_", "...", "0123"])
def test_valid_usernames(username):
    assert check_username(username) is None


@pytest.mark.parametrize(
    "username",
    [
        "",
        "ab",
        "a" * 33,
        "alice b",
        "alice@example",
        "zoë",
        "\u0430lice",  # Cyrillic a: looks like "alice"
        "alice\n",  # a trailing newline must not slip past the pattern
        "\nalice",
        "alice\t",
        "al/ice",
        "alice+1",
    ],
)
def test_invalid_usernames(username):
    message = check_username(username)
    assert message is not None
    assert "3 to 32" in message


# -- emails -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "normalised"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice.Smith+tag@Example.COM", "Alice.Smith+tag@example.com"),
        ("  alice@example.com  ", "alice@example.com"),
        ("zoë@example.com", "zoë@example.com"),
    ],
)
def test_valid_emails_are_normalised(email, normalised):
    assert normalise_email(email) == (normalised, None)


@pytest.mark.parametrize(
    "email",
    [
        "",
        "alice",
        "alice@",
        "@example.com",
        "alice@@example.com",
        "al ice@example.com",
        "alice@example..com",
        "alice@localhost",
        "x@" + "a" * 320 + ".com",
    ],
)
def test_invalid_emails(email):
    normalised, message = normalise_email(email)
    assert normalised is None
    assert message == "Enter a valid email address."


# -- password length: characters, not bytes -----------------------------------------


async def test_eight_emoji_are_long_enough():
    password = emoji_password(8)
    assert len(password) == 8 and len(password.encode()) == 32
    assert check_password_length(password) is None
    assert await check_password(password, "alice", "alice@example.com") is None


async def test_seven_emoji_are_too_short_despite_28_bytes():
    password = emoji_password(7)
    assert len(password.encode()) == 28
    message = await check_password(password, "alice", "alice@example.com")
    assert message is not None and "at least 8" in message


async def test_256_characters_are_accepted_even_at_1024_bytes():
    password = emoji_password(256)
    assert len(password.encode()) == 1024
    assert await check_password(password, "alice", "alice@example.com") is None


async def test_257_characters_are_refused():
    message = await check_password(emoji_password(257), "alice", "alice@example.com")
    assert message is not None and "at most 256" in message


def test_input_beyond_any_normal_form_of_the_maximum_is_refused_unread(monkeypatch):
    import services.validation

    normalised: list[str] = []
    monkeypatch.setattr(services.validation, "normalise_password", normalised.append)
    assert check_password_length("x" * (PASSWORD_INPUT_MAX + 1)) == "Use at most 256 characters."
    assert normalised == []


async def test_a_password_that_grows_past_the_maximum_under_nfkc_is_refused():
    message = await check_password("\ufdfa" * 15, "alice", "alice@example.com")  # 15 typed, 270 normalised
    assert message is not None and "at most 256" in message


async def test_257_ascii_characters_are_refused():
    password = (STRONG_PASSWORD + " ") * 10
    assert check_password_length(password[:256]) is None
    assert check_password_length(password[:257]) is not None


@pytest.mark.parametrize("password", ["", "short", "1234567"])
async def test_short_passwords_are_refused(password):
    message = await check_password(password, "alice", "alice@example.com")
    assert message is not None and "at least 8" in message


async def test_no_composition_rules():
    """Lower-case words only, no digits or symbols: fine when long and unguessable."""
    assert await check_password(STRONG_PASSWORD, "alice", "alice@example.com") is None


# -- common passwords ---------------------------------------------------------------


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "iloveyou", "12345678", "aaaaaaaaaaaa"])
async def test_common_passwords_are_refused_with_zxcvbn_feedback(password):
    message = await check_password(password, "alice", "alice@example.com")
    assert message is not None
    feedback = zxcvbn(password)["feedback"]
    if feedback["warning"]:
        assert feedback["warning"] in message
    for suggestion in feedback["suggestions"]:
        assert suggestion in message


# -- passwords built from the username or email -------------------------------------


@pytest.mark.parametrize(
    ("password", "username", "email"),
    [
        ("marmaduke2024", "marmaduke", "m@example.com"),
        ("Marmaduke!!", "marmaduke", "m@example.com"),
        ("MARMADUKE1234", "Marmaduke", "m@example.com"),
        ("quixotic.penguin1", "zed", "quixotic.penguin@example.com"),
        ("alice@example.com!!", "zed", "alice@example.com"),
    ],
)
async def test_passwords_built_from_username_or_email_are_refused(password, username, email):
    message = await check_password(password, username, email)
    assert message is not None
    assert BUILT_FROM_PERSONAL in message


async def test_username_inside_a_strong_password_is_allowed():
    """Only passwords *built* from personal data are refused, not every mention of it."""
    assert await check_password("marmaduke " + STRONG_PASSWORD, "marmaduke", "m@example.com") is None


async def test_the_same_password_is_fine_for_someone_else():
    assert await check_password("quixotic.penguin1", "zed", "zed@example.com") is None
