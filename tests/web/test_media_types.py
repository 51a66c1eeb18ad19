"""Contract section 6, media types and status: what `Accept` chooses, and the status each
kind of failure gets in each media type.

`application/graphql-response+json` gets that type back, and a document that fails to parse
or validate, or variables that fail to coerce, get 400 and no `data` key; with
`application/json` (or no `Accept`) section 5 holds (those failures are 200). Once execution
starts the answer is 200, except for the credential, permission and rate rules (401, 403,
429), which hold in both media types.
"""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import (
    BASIC_CHALLENGE,
    BEARER_CHALLENGE,
    LOGIN,
    PLAIN_CHALLENGE,
    REGISTER,
    STRONG_PASSWORD,
    TOKEN_CHALLENGE,
    Persona,
    app_client,
    basic,
    bearer,
    bearer_login,
    jwt_headers,
    login_variables,
    make_settings,
    token,
)
from tests.web.exchange import (
    APOLLO_ACCEPT,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    assert_request_error,
    body_of,
    codes_of,
    media_type,
    post,
    shown,
)

TYPENAME = {"query": "{ __typename }"}
BOTH = pytest.mark.parametrize(
    "accept", [GRAPHQL_RESPONSE_JSON, JSON, None], ids=["gql-response", "json", "none"]
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("*/*", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (APOLLO_ACCEPT, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE_JSON),
        # q-values choose, not the order.
        (f"{JSON}, {GRAPHQL_RESPONSE_JSON};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.5, {JSON}", JSON),
        (f"{JSON};q=0.1, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{JSON};q=0, {GRAPHQL_RESPONSE_JSON};q=0.2", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, {JSON}", JSON),
        # A browser-style list and wildcards: the default type.
        ("text/html, */*;q=0.8", JSON),
        ("application/*", JSON),
        # A type refused by name stays refused when a wildcard would match it.
        (f"{JSON};q=0, */*", GRAPHQL_RESPONSE_JSON),
        (f"text/html, {GRAPHQL_RESPONSE_JSON};q=0.9", GRAPHQL_RESPONSE_JSON),
    ],
)
async def test_accept_chooses_the_media_type(http: httpx.AsyncClient, accept: str | None, expected: str):
    response = await post(http, TYPENAME, accept=accept)

    assert response.status_code == 200, shown(response)
    assert media_type(response) == expected, shown(response)
    charset = response.headers["content-type"].lower().partition("charset=")[2].strip()
    assert charset in ("", "utf-8"), shown(response)
    assert body_of(response) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "accept",
    ["text/html", "image/png", "application/xml", "text/plain;q=1", f"{JSON};q=0", f"{JSON};q=0, text/html"],
)
async def test_an_unacceptable_accept_is_406_and_nothing_runs(http: httpx.AsyncClient, accept: str):
    variables = {"input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}}

    refused = await post(http, {"query": REGISTER, "variables": variables}, accept=accept)

    assert refused.status_code == 406, shown(refused)
    # Neither type can please this client: the default type, with the stable code.
    assert media_type(refused) == JSON, shown(refused)
    assert codes_of(refused) == ["BAD_REQUEST"], shown(refused)
    assert "set-cookie" not in refused.headers
    # The registration never ran: the same one now succeeds.
    again = await post(http, {"query": REGISTER, "variables": variables}, accept=JSON)
    assert again.status_code == 200 and "errors" not in body_of(again), shown(again)


@BOTH
@pytest.mark.parametrize(
    "query",
    [
        "{",
        "{ me { id ",
        "query { me { id } } }",
        "query Q($a: Int = ) { me { id } }",
        '{ user(id: "\\ud800") { id } }',
    ],
    ids=["brace", "unclosed", "extra-brace", "missing-default", "surrogate-escape"],
)
async def test_a_document_that_does_not_parse(http: httpx.AsyncClient, accept: str | None, query: str):
    response = await post(http, {"query": query}, accept=accept)

    body = assert_request_error(response, "GRAPHQL_PARSE_FAILED", accept)
    assert body["errors"][0]["message"].startswith("Syntax Error"), body
    assert body["errors"][0].get("locations"), body


@BOTH
@pytest.mark.parametrize(
    "query",
    [
        "{ nope }",
        "{ me { id passwordHash } }",
        "{ me(id: 1) { id } }",
        "{ me }",
        "subscription { me { id } }",
        "query { me { ...A } } fragment A on User { ...B } fragment B on User { ...A }",
        "query { me { id } } fragment Unused on User { id }",
        "query Q($unused: Int) { me { id } }",
        "query Same { me { id } } query Same { me { username } }",
    ],
    ids=[
        "unknown", "unknown-nested", "unknown-argument", "no-selection", "subscription",
        "fragment-cycle", "unused-fragment", "unused-variable", "duplicate-operation",
    ],
)  # fmt: skip
async def test_a_document_that_does_not_validate(http: httpx.AsyncClient, accept: str | None, query: str):
    response = await post(http, {"query": query}, accept=accept)

    assert_request_error(response, "GRAPHQL_VALIDATION_FAILED", accept)


@BOTH
@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        ("query Q($id: ID!) { user(id: $id) { id } }", {"id": None}, "id"),
        ("query Q($id: ID!) { user(id: $id) { id } }", {}, "id"),
        ("query Q($first: Int) { users(first: $first) { totalCount } }", {"first": "ten"}, "first"),
        ("query Q($first: Int) { users(first: $first) { totalCount } }", {"first": 2**40}, "first"),
        (REGISTER, {"input": {"username": 1, "email": "x@example.com", "password": "p" * 12}}, "username"),
        (REGISTER, {"input": {"username": "carol", "password": "p" * 12}}, "email"),
        (
            REGISTER,
            {"input": {"username": "c", "email": "e", "password": "p", "transport": "CARRIER"}},
            "transport",
        ),
    ],
    ids=[
        "null-for-non-null",
        "missing",
        "string-for-int",
        "int-too-big",
        "wrong-type",
        "missing-field",
        "enum",
    ],
)
async def test_variables_that_do_not_coerce(
    http: httpx.AsyncClient, accept: str | None, query: str, variables: dict, field: str
):
    """Anonymous callers included: coercion comes before any permission, so these are
    `BAD_USER_INPUT` naming the field, never 401."""
    response = await post(http, {"query": query, "variables": variables}, accept=accept)

    body = assert_request_error(response, "BAD_USER_INPUT", accept)
    fields = body["errors"][0]["extensions"]["fields"]
    assert isinstance(fields, dict) and field in fields, body


@BOTH
@pytest.mark.parametrize(
    "query",
    [
        'mutation { logout(everywhere: "yes") }',
        '{ users(first: "ten") { totalCount } }',
        "{ user(id: 3.5) { id } }",
        'mutation { login(input: {login: "a", password: "b", transport: CARRIER}) { user { id } } }',
    ],
    ids=["boolean", "int", "id", "enum"],
)
async def test_argument_literals_of_the_wrong_type_fail_validation(
    http: httpx.AsyncClient, accept: str | None, query: str
):
    """A literal of the wrong type is a bug in the client's document, not a value a user
    typed (those travel as variables): `GRAPHQL_VALIDATION_FAILED`, as Apollo Server codes it."""
    response = await post(http, {"query": query}, accept=accept)

    assert_request_error(response, "GRAPHQL_VALIDATION_FAILED", accept)


@BOTH
async def test_argument_values_the_service_refuses_are_bad_user_input_naming_each_field(
    http: httpx.AsyncClient, accept: str | None
):
    """Values of the right type that the service refuses: execution started, so 200 in both
    media types (section 5), `BAD_USER_INPUT` with each field in `fields`."""
    query = 'mutation { register(input: {username: "x!", email: "nope", password: "short"}) { user { id } } }'

    response = await post(http, {"query": query}, accept=accept)

    assert response.status_code == 200, shown(response)
    assert media_type(response) == (GRAPHQL_RESPONSE_JSON if accept == GRAPHQL_RESPONSE_JSON else JSON)
    assert codes_of(response) == ["BAD_USER_INPUT"], shown(response)
    fields = body_of(response)["errors"][0]["extensions"]["fields"]
    assert {"username", "email", "password"} <= set(fields), shown(response)
    assert body_of(response).get("data") is None


# -- once execution starts ----------------------------------------------------------------


def assert_answered(response: httpx.Response, accept: str | None, status: int, codes: list[str]) -> dict:
    """An executed request: `status`, the negotiated media type, errors coded `codes`."""
    assert response.status_code == status, shown(response)
    expected_type = GRAPHQL_RESPONSE_JSON if accept == GRAPHQL_RESPONSE_JSON else JSON
    assert media_type(response) == expected_type, shown(response)
    assert codes_of(response) == codes, shown(response)
    assert response.headers["cache-control"] == "no-store", shown(response)
    return body_of(response)


@BOTH
@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        (bearer("not-a-real-token"), BEARER_CHALLENGE),
        (bearer("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"), BEARER_CHALLENGE),
        (token("gh_not-a-real-token"), TOKEN_CHALLENGE),
        (basic("nobody", "wrong password"), BASIC_CHALLENGE),
    ],
    ids=["bearer-garbage", "bearer-forged-jwt", "token", "basic"],
)
async def test_rejected_credentials_are_401_in_both_media_types(
    http: httpx.AsyncClient, accept: str | None, headers: dict[str, str], challenge: str
):
    response = await post(http, {"query": "{ me { id } }"}, accept=accept, headers=headers)

    body = assert_answered(response, accept, 401, ["UNAUTHENTICATED"])
    assert response.headers["www-authenticate"] == challenge
    assert body.get("data") is None, body


@BOTH
async def test_an_anonymous_protected_field_is_401_in_both_media_types(http: httpx.AsyncClient, accept):
    response = await post(http, {"query": "{ myCredentials { id } }"}, accept=accept)

    body = assert_answered(response, accept, 401, ["UNAUTHENTICATED"])
    assert response.headers["www-authenticate"] == PLAIN_CHALLENGE
    assert body.get("data") is None, body


@BOTH
async def test_a_failed_login_is_401_in_both_media_types(http: httpx.AsyncClient, alice: Persona, accept):
    body = {"query": LOGIN, "variables": login_variables("alice", "wrong password entirely")}
    response = await post(http, body, accept=accept)

    assert_answered(response, accept, 401, ["UNAUTHENTICATED"])
    assert response.headers["www-authenticate"]


@BOTH
async def test_a_permission_refusal_is_403_in_both_media_types(
    http: httpx.AsyncClient, alice: Persona, accept
):
    headers = jwt_headers(await bearer_login(http, "alice"))
    response = await post(http, {"query": "{ users { totalCount } }"}, accept=accept, headers=headers)

    body = assert_answered(response, accept, 403, ["FORBIDDEN"])
    assert body.get("data") is None, body


@BOTH
async def test_an_error_beside_data_is_200_in_both_media_types(
    http: httpx.AsyncClient, alice: Persona, bob: Persona, accept
):
    headers = jwt_headers(await bearer_login(http, "bob"))
    query = f'{{ me {{ id }} user(id: "{alice.id}") {{ email }} }}'

    response = await post(http, {"query": query}, accept=accept, headers=headers)

    body = assert_answered(response, accept, 200, ["FORBIDDEN"])
    assert body["data"]["me"] == {"id": bob.id}, body


@BOTH
async def test_a_mutation_succeeds_in_both_media_types(http: httpx.AsyncClient, accept):
    variables = {
        "input": {
            "username": "carol",
            "email": "carol@example.com",
            "password": STRONG_PASSWORD,
            "transport": "COOKIE",
        }
    }
    response = await post(http, {"query": REGISTER, "variables": variables}, accept=accept)

    body = assert_answered(response, accept, 200, [])
    assert body["data"]["register"]["user"]["username"] == "carol"
    assert any(c.startswith("session=") for c in response.headers.get_list("set-cookie")), shown(response)


@BOTH
async def test_rate_limiting_is_429_in_both_media_types(clean_backends, accept):
    settings = make_settings(login_limit_per_account="2/minute")
    async with app_client(settings) as client:
        await post(client, {"query": REGISTER, "variables": {"input": {
            "username": "alice", "email": "alice@example.com", "password": STRONG_PASSWORD}}})  # fmt: skip
        body = {"query": LOGIN, "variables": login_variables("alice", "wrong password entirely")}
        for _ in range(2):
            failed = await post(client, body, accept=accept)
            assert failed.status_code == 401, shown(failed)

        limited = await post(client, body, accept=accept)

    answer = assert_answered(limited, accept, 429, ["RATE_LIMITED"])
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert answer["errors"][0]["extensions"]["retryAfter"] == retry_after
