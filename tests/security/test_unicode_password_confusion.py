"""Passwords the user typed one way and the keyboard sent another way (Unicode
normalisation), passwords cut short (bcrypt's 72-byte limit) and passwords counted in
bytes instead of characters."""

from __future__ import annotations

import unicodedata

import pytest

from tests.helpers import LOGIN, REGISTER, gql, login_variables

COMPOSED = unicodedata.normalize("NFC", "Crème brûlée à l'été, naïve façade")
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)


def register_variables(username: str, password: str) -> dict[str, object]:
    return {
        "input": {
            "username": username,
            "email": f"{username}@example.com",
            "password": password,
            "transport": "BEARER",
        }
    }


def test_the_two_forms_really_differ():
    assert COMPOSED != DECOMPOSED and len(DECOMPOSED) > len(COMPOSED)


@pytest.mark.parametrize(
    ("set_as", "log_in_as"),
    [(COMPOSED, DECOMPOSED), (DECOMPOSED, COMPOSED), (COMPOSED, COMPOSED)],
    ids=["nfc-then-nfd", "nfd-then-nfc", "same"],
)
async def test_both_normal_forms_of_the_password_work(http, set_as, log_in_as):
    registered = await gql(http, REGISTER, register_variables("celine", set_as), cookies=False)
    assert registered.status == 200 and not registered.errors, registered.body

    result = await gql(http, LOGIN, login_variables("celine", log_in_as), cookies=False)

    assert result.status == 200 and result.data["login"]["accessToken"], result.body


async def test_nothing_after_72_bytes_is_ignored(http):
    prefix = "grüße aus köln! " * 5  # over 72 bytes of UTF-8 before the difference
    assert len(prefix.encode()) > 72
    registered = await gql(
        http, REGISTER, register_variables("longpass", prefix + "ending one"), cookies=False
    )
    assert registered.status == 200 and not registered.errors, registered.body

    wrong = await gql(http, LOGIN, login_variables("longpass", prefix + "ending two"), cookies=False)
    right = await gql(http, LOGIN, login_variables("longpass", prefix + "ending one"), cookies=False)

    assert wrong.status == 401 and wrong.codes == ["UNAUTHENTICATED"], wrong.body
    assert right.status == 200, right.body


async def test_length_is_counted_in_characters(http):
    # 8 characters but 24 bytes: long enough. A 7-character one is not, whatever its bytes.
    eight = "ж字🙂ü龍é字ж"
    seven = "龍🙂ü字ж😀é"
    assert len(unicodedata.normalize("NFKC", eight)) == 8 and len(seven) == 7
    short = await gql(http, REGISTER, register_variables("seven", seven), cookies=False)
    assert short.codes == ["BAD_USER_INPUT"]
    assert "at least 8 characters" in short.errors[0]["extensions"]["fields"]["password"]


async def test_256_characters_work_and_257_do_not(http):
    ok = ("ü" + "correct horse battery staple " * 9)[:256]
    assert len(ok) == 256 and len(ok.encode()) == 257
    too_long = ok + "x"
    accepted = await gql(http, REGISTER, register_variables("maxlen", ok), cookies=False)
    assert accepted.status == 200 and not accepted.errors, accepted.body
    refused = await gql(http, REGISTER, register_variables("overlen", too_long), cookies=False)
    assert refused.codes == ["BAD_USER_INPUT"]
    assert "at most 256 characters" in refused.errors[0]["extensions"]["fields"]["password"]
    login = await gql(http, LOGIN, login_variables("maxlen", ok), cookies=False)
    assert login.status == 200, login.body
