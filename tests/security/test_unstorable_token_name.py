"""Token names (and scopes) that no database can store, or no answer can carry.

The attack: `createApiToken(name: "a\\ud800b")` (a lone surrogate) fails in the SQLite
driver, and a NUL in the name fails in PostgreSQL's: a 500 and a traceback per request.
An unknown scope holding a lone surrogate is echoed into the error message, which then
cannot be encoded at all. The service refuses such names itself (`BAD_USER_INPUT` on
`name`), whatever guard the request path adds, on both databases.
"""

from __future__ import annotations

import json

import httpx
import pytest

from core.errors import BadUserInput
from models import Credential, CredentialKind
from schema.build import build_schema
from schema.input_limits import UNSAFE_TEXT
from services.credentials import ROLE_BOUND_SCOPES, TOKEN_NAME_MAX, check_token_request
from tests.helpers import CREATE_TOKEN, GRAPHQL, Persona, bearer_login, jwt_headers, make_settings

BAD_NAMES = {
    "lone-surrogate": "a\ud800b",
    "low-surrogate": "\udfff",
    "nul": "a\x00b",
    "only-nul": "\x00",
    "tab": "ci\tjob",
    "newline": "ci\njob",
    "escape": "ci\x1b[31m",
    "delete": "ci\x7f",
    "bidi-override": "ci\u202ebot",
    "zero-width": "\u200b",
    "line-separator": "ci\u2028job",
    "too-long": "n" * (TOKEN_NAME_MAX + 1),
    "too-long-wide": "é" * (TOKEN_NAME_MAX + 1),
    "blank": "   ",
}
# Refused by the request guard (`schema/input_limits.py`) before the service sees them;
# the service's own check refuses the rest, and these too when called directly.
GUARDED = {"lone-surrogate", "low-surrogate", "nul", "only-nul"}
NAME_PROBLEM = f"Use 1 to {TOKEN_NAME_MAX} printable characters (no control characters)."
# The scopes the served schema names (Gatehouse's own here: no SCHEMA_MODULES).
KNOWN_SCOPES = build_schema(make_settings()).known_scopes
# Every scope a token may carry: the schema's, and those bound to a role (tokens:introspect).
UNKNOWN_SCOPES = f"Unknown scope(s); known: {', '.join(sorted({*KNOWN_SCOPES, *ROLE_BOUND_SCOPES}))}."
GOOD_NAMES = {
    "plain": "deploy bot",
    "accents": "déploiement",
    "emoji": "ci 🙂",
    "longest": "é" * TOKEN_NAME_MAX,
    "padded": "  " + "n" * TOKEN_NAME_MAX + "  ",
}


async def _create(http: httpx.AsyncClient, headers: dict[str, str], name: str, scopes: list[str]):
    # json.dumps writes a lone surrogate as the escape `\ud800`, as an attacker would send it.
    body = json.dumps({"query": CREATE_TOKEN, "variables": {"name": name, "scopes": scopes}})
    return await http.post(GRAPHQL, content=body, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize(("key", "name"), list(BAD_NAMES.items()), ids=list(BAD_NAMES))
async def test_unstorable_names_are_bad_input(http, alice: Persona, key: str, name: str):
    headers = jwt_headers(await bearer_login(http, "alice"))

    response = await _create(http, headers, name, [])

    # A wrong value, whichever layer refuses it: 200 (section 5), one error on `name`.
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    expected = UNSAFE_TEXT if key in GUARDED else NAME_PROBLEM
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"name": expected}}, response.text
    assert await Credential.filter(kind=CredentialKind.API_TOKEN).count() == 0


@pytest.mark.parametrize("name", list(GOOD_NAMES.values()), ids=list(GOOD_NAMES))
async def test_printable_names_are_stored_as_given(http, alice: Persona, name: str):
    headers = jwt_headers(await bearer_login(http, "alice"))

    response = await _create(http, headers, name, [])

    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["createApiToken"]["credential"]["name"] == name.strip()


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("\ud800", UNSAFE_TEXT),  # the request guard
        ("users:read\x00", UNSAFE_TEXT),
        ("x" * 10_000, UNKNOWN_SCOPES),  # the service, echoing none of them
        ("users:\u202eread", UNKNOWN_SCOPES),
    ],
    ids=["lone-surrogate", "nul", "huge", "bidi-override"],
)
async def test_unknown_scopes_are_refused_without_echoing_what_cannot_be_shown(
    http, alice: Persona, scope: str, expected: str
):
    headers = jwt_headers(await bearer_login(http, "alice"))

    response = await _create(http, headers, "ci", [scope])

    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"scopes": expected}}, response.text
    message = error["extensions"]["fields"]["scopes"]
    assert scope not in message and len(message) < 200
    assert await Credential.filter(kind=CredentialKind.API_TOKEN).count() == 0


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_the_service_refuses_them_on_its_own(name: str):
    with pytest.raises(BadUserInput) as raised:
        check_token_request(name, [], 30, 366, known_scopes=KNOWN_SCOPES)
    assert set(raised.value.fields) == {"name"}


@pytest.mark.parametrize(
    ("escaped", "message", "fields"),
    [
        # A NUL: the literal rule (`SafeLiterals`) at validation.
        (
            "a\\u0000b",
            f"Invalid value at 'name': {UNSAFE_TEXT}",
            {"name": f"Invalid value at 'name': {UNSAFE_TEXT}"},
        ),
        # Other unprintable characters: the service.
        ("\\u0007bell", f"Invalid input: name: {NAME_PROBLEM}", {"name": NAME_PROBLEM}),
        ("ci\\u202ebot", f"Invalid input: name: {NAME_PROBLEM}", {"name": NAME_PROBLEM}),
        # An unpaired surrogate: graphql-core's lexer, a syntax error (section 6:
        # GRAPHQL_PARSE_FAILED, no field, 200 with application/json).
        ("\\ud800", "Syntax Error: Invalid Unicode escape sequence: '\\ud800'.", None),
        ("\\u{D800}", "Syntax Error: Invalid Unicode escape sequence: '\\u{D800}'.", None),
    ],
    ids=["nul", "bell", "bidi-override", "surrogate", "braced-surrogate"],
)
async def test_names_written_as_escapes_in_the_document_are_bad_input(
    http, alice: Persona, escaped: str, message: str, fields: dict[str, str] | None
):
    # Escapes inside the query text: no JSON-level check sees a control character.
    headers = jwt_headers(await bearer_login(http, "alice"))
    document = 'mutation { createApiToken(name: "' + escaped + '") { token } }'

    response = await http.post(GRAPHQL, json={"query": document}, headers=headers)

    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["message"] == message, response.text
    expected = (
        {"code": "GRAPHQL_PARSE_FAILED"} if fields is None else {"code": "BAD_USER_INPUT", "fields": fields}
    )
    assert error["extensions"] == expected, response.text
    assert await Credential.filter(kind=CredentialKind.API_TOKEN).count() == 0


@pytest.mark.parametrize("name", ["a\ud800b", "a\x00b"], ids=["lone-surrogate", "nul"])
async def test_the_service_refuses_them_before_the_database(app, alice: Persona, name: str):
    # Straight to the service, past every request-level guard, on the suite's database.
    from auth.identity import Identity, Scheme
    from core.client import ClientInfo
    from models import User
    from services.credentials import create_api_token

    user = await User.get(id=alice.id)
    identity = Identity(user=user, roles=frozenset(user.roles), scheme=Scheme.JWT)
    with pytest.raises(BadUserInput) as raised:
        await create_api_token(
            app.state.backend.api_tokens,
            identity,
            name,
            [],
            30,
            ClientInfo(ip=None, is_https=False, user_agent=None),
            known_scopes=KNOWN_SCOPES,
        )
    assert set(raised.value.fields) == {"name"}
    assert await Credential.filter(kind=CredentialKind.API_TOKEN).count() == 0
