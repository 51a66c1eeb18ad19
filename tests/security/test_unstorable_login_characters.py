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
from auth.strategy.password import LOGIN_MAX, USERNAME_MAX
from core.errors import GENERIC_LOGIN_FAILURE, Unauthenticated
from schema.input_limits import UNSAFE_TEXT
from services import accounts
from services.user_rows import find_user_by_login
from tests.helpers import (
    GRAPHQL,
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
        await accounts.login(backend.limiter, backend.passwords, login, STRONG_PASSWORD)
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


def _as_variables(login: str) -> bytes:
    # json.dumps writes a NUL as `\u0000` and a lone surrogate as `\ud800`: valid JSON.
    return json.dumps({"query": LOGIN, "variables": login_variables(login, STRONG_PASSWORD)}).encode()


def _as_literal(login: str) -> bytes:
    # The same escapes inside the document's string literal (GraphQL reads `\uXXXX` alike).
    document = (
        f'mutation {{ login(input: {{login: {json.dumps(login)}, password: "{STRONG_PASSWORD}", '
        "transport: BEARER}) { accessToken } }"
    )
    return json.dumps({"query": document}).encode()


def _as_raw_bytes(raw: bytes) -> bytes:
    return _as_variables("@@").replace(b"@@", raw)


Answer = tuple[int, str, str, dict[str, str] | None]  # status, code, message, fields
GUARD_ANSWER: Answer = (200, "BAD_USER_INPUT", f"Invalid input: login: {UNSAFE_TEXT}", {"login": UNSAFE_TEXT})
LITERAL_GUARD_ANSWER: Answer = (
    200,
    "BAD_USER_INPUT",
    f"Invalid value at 'login': {UNSAFE_TEXT}",
    {"login": f"Invalid value at 'login': {UNSAFE_TEXT}"},
)
NOT_JSON_ANSWER: Answer = (400, "BAD_REQUEST", "The body is not readable JSON (UTF-8).", None)


def _lexer_answer(login: str) -> Answer:
    # graphql-core's lexer refuses an unpaired surrogate escape itself: a syntax error,
    # GRAPHQL_PARSE_FAILED (section 6), no field, 200 with application/json.
    [surrogate] = [c for c in login if "\ud800" <= c <= "\udfff"]
    return (
        200,
        "GRAPHQL_PARSE_FAILED",
        f"Syntax Error: Invalid Unicode escape sequence: '\\u{ord(surrogate):04x}'.",
        None,
    )


FAILED_LOGIN: Answer = (401, "UNAUTHENTICATED", GENERIC_LOGIN_FAILURE, None)

# Each way a login can arrive, with the one answer it gets today. Nothing here reaches
# the database; the last group reaches the login service, which finds no one.
MUTATION_CASES: dict[str, tuple[bytes, Answer]] = {
    **{f"variable-{k}": (_as_variables(v), GUARD_ANSWER) for k, v in UNSTORABLE.items()},
    **{
        f"literal-{k}": (_as_literal(v), _lexer_answer(v) if "surrogate" in k else LITERAL_GUARD_ANSWER)
        for k, v in UNSTORABLE.items()
    },
    # Not UTF-8 (a surrogate encoded anyway, a stray byte, a cut sequence), or a raw NUL
    # byte, which JSON forbids inside a string: the body is unreadable, refused as such.
    "raw-surrogate-bytes": (_as_raw_bytes("al\ud800ice".encode("utf-8", "surrogatepass")), NOT_JSON_ANSWER),
    "raw-ff-byte": (_as_raw_bytes(b"al\xffice"), NOT_JSON_ANSWER),
    "raw-cut-sequence": (_as_raw_bytes(b"al\xc3ice"), NOT_JSON_ANSWER),
    "raw-nul-byte": (_as_raw_bytes(b"al\x00ice"), NOT_JSON_ANSWER),
    # Storable text that no account can have: past the guard, an ordinary failed login.
    "username-over-its-column": (_as_variables("a" * (USERNAME_MAX + 1)), FAILED_LOGIN),
    "email-over-its-column": (_as_variables("a" * (LOGIN_MAX - 11) + "@example.com"), FAILED_LOGIN),
    "huge": (_as_variables("a" * 100_000), FAILED_LOGIN),
    "huge-literal": (_as_literal("a" * 100_000), FAILED_LOGIN),
}


@pytest.mark.parametrize(("body", "expected"), MUTATION_CASES.values(), ids=MUTATION_CASES.keys())
async def test_the_login_mutation_never_answers_500(served, body: bytes, expected):
    """Each form gets one answer: the request guard's (`schema/input_limits.py`), the
    lexer's, the JSON reader's, or the login service's failed login after one dummy check."""
    client, hasher = served
    status, code, message, fields = expected
    before = dict(hasher.calls)

    response = await client.post(GRAPHQL, content=body, headers={"content-type": "application/json"})

    assert response.status_code == status, response.text
    answer = response.json()
    if expected is FAILED_LOGIN:
        assert answer["data"] is None, answer  # the login ran, and failed
    else:
        assert "data" not in answer, answer  # refused before execution (section 6)
    [error] = answer["errors"]
    assert error["extensions"]["code"] == code, answer
    assert error["extensions"].get("fields") == fields, answer
    assert error["message"] == message, answer
    dummy_checks = hasher.calls["verify_dummy"] - before["verify_dummy"]
    assert dummy_checks == (1 if status == 401 else 0), answer
    assert hasher.calls["verify"] == before["verify"]
