"""Contract section 6, GET: `GET /graphql?query=...&variables=...&operationName=...` runs
queries; a mutation over GET is 405 with `Allow: POST` and never runs; the browser rules of
section 4 hold for GET too; GraphiQL opens only for a browser asking for `text/html`, and
only outside production.
"""

from __future__ import annotations

import json

import httpx
import pytest

from core.settings import Settings
from tests.helpers import (
    LOGIN,
    REGISTER,
    STRONG_PASSWORD,
    Persona,
    app_client,
    bearer,
    bearer_login,
    cookie_login,
    jwt_headers,
    make_settings,
)
from tests.web.exchange import (
    BROWSER_ACCEPT,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    assert_request_error,
    body_of,
    codes_of,
    get,
    get_params,
    media_type,
    post,
    shown,
)

ALLOWED = "https://app.example.com"
EVIL = "https://evil.example"
ME = "query Me { me { id username } }"
BOTH = pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, JSON], ids=["gql-response", "json"])


@pytest.fixture
def settings() -> Settings:
    return make_settings(allowed_origins=(ALLOWED,))


@pytest.mark.parametrize(
    ("accept", "expected"),
    [(GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON), (JSON, JSON), ("*/*", JSON), (None, JSON)],
)
async def test_get_runs_a_query(http: httpx.AsyncClient, accept: str | None, expected: str):
    response = await get(http, get_params("{ me { id } }"), accept=accept)

    assert response.status_code == 200, shown(response)
    assert media_type(response) == expected
    assert body_of(response) == {"data": {"me": None}}


async def test_get_takes_variables_and_an_operation_name(http: httpx.AsyncClient, alice: Persona):
    headers = jwt_headers(await bearer_login(http, "alice"))
    document = "query Other { __typename } query Who($id: ID!) { user(id: $id) { username } }"

    response = await get(http, get_params(document, {"id": alice.id}, "Who"), headers=headers)

    assert response.status_code == 200, shown(response)
    assert body_of(response) == {"data": {"user": {"username": "alice"}}}
    assert response.headers["cache-control"] == "no-store"  # it carried a credential
    other = await get(http, get_params(document, {"id": alice.id}, "Other"), headers=headers)
    assert body_of(other) == {"data": {"__typename": "Query"}}, shown(other)


async def test_get_with_a_cookie_session_answers_for_that_session(http: httpx.AsyncClient, alice: Persona):
    await cookie_login(http, "alice")

    response = await get(http, get_params(ME))

    assert response.status_code == 200, shown(response)
    assert body_of(response)["data"]["me"]["username"] == "alice"
    assert response.headers["cache-control"] == "no-store"


@BOTH
@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "BAD_REQUEST"),
        ({"variables": "{}"}, "BAD_REQUEST"),
        ({"query": "{ __typename }", "variables": "{not json"}, "BAD_REQUEST"),
        ({"query": "{ __typename }", "variables": "[1]"}, "BAD_REQUEST"),
        ({"query": "{ __typename }", "variables": '"string"'}, "BAD_REQUEST"),
        ({"query": "{ __typename }", "extensions": "{not json"}, "BAD_REQUEST"),
        ({"query": "{ __typename }", "extensions": "[1]"}, "BAD_REQUEST"),
        ({"query": "query A { __typename } query B { __typename }"}, "BAD_REQUEST"),
        ({"query": "{ me { id "}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "query Q($id: ID!) { user(id: $id) { id } }", "variables": "{}"}, "BAD_USER_INPUT"),
    ],
    ids=[
        "no-query", "only-variables", "variables-not-json", "variables-array", "variables-string",
        "extensions-not-json", "extensions-array", "two-operations", "parse", "validation", "coercion",
    ],
)  # fmt: skip
async def test_get_failures_have_the_codes_and_statuses_of_post(
    http: httpx.AsyncClient, accept: str, params: dict[str, str], code: str
):
    response = await get(http, params, accept=accept)

    assert_request_error(response, code, accept)


@BOTH
@pytest.mark.parametrize(
    ("document", "operation_name"),
    [
        ("mutation { logout }", None),
        ("mutation Out { logout }", "Out"),
        ("query In { me { id } } mutation Out { logout }", "Out"),
        ("mutation { __typename }", None),
    ],
    ids=["anonymous", "named", "chosen-of-two", "typename-only"],
)
async def test_a_mutation_over_get_is_405_and_does_not_run(
    http: httpx.AsyncClient, alice: Persona, accept: str, document: str, operation_name: str | None
):
    await cookie_login(http, "alice")

    response = await get(http, get_params(document, operation_name=operation_name), accept=accept)

    assert response.status_code == 405, shown(response)
    assert response.headers["allow"] == "POST"
    assert media_type(response) == accept
    assert codes_of(response) == ["BAD_REQUEST"], shown(response)
    if accept == GRAPHQL_RESPONSE_JSON:
        assert "data" not in body_of(response)
    assert "set-cookie" not in response.headers
    still_in = await post(http, {"query": ME})
    assert body_of(still_in)["data"]["me"]["username"] == "alice", shown(still_in)


async def test_the_query_of_a_document_that_also_holds_a_mutation_runs_over_get(http: httpx.AsyncClient):
    document = "query In { me { id } } mutation Out { logout }"
    response = await get(http, get_params(document, operation_name="In"))
    assert response.status_code == 200 and body_of(response) == {"data": {"me": None}}, shown(response)


async def test_register_and_login_over_get_create_nothing(http: httpx.AsyncClient, alice: Persona):
    variables = {"input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}}
    login = {"input": {"login": "alice", "password": STRONG_PASSWORD, "transport": "COOKIE"}}

    registered = await get(http, get_params(REGISTER, variables))
    logged_in = await get(http, get_params(LOGIN, login))

    for response in (registered, logged_in):
        assert response.status_code == 405, shown(response)
        assert "set-cookie" not in response.headers
    again = await post(http, {"query": REGISTER, "variables": variables})
    assert again.status_code == 200 and "errors" not in body_of(again), shown(again)


# -- the browser rules of section 4 -----------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": ALLOWED},
    ],
    ids=["foreign-origin", "null-origin", "sec-fetch-cross-site", "cross-site-wins"],
)
async def test_a_cross_site_get_with_the_session_cookie_is_refused(
    http: httpx.AsyncClient, alice: Persona, headers: dict[str, str]
):
    await cookie_login(http, "alice")

    response = await get(http, get_params(ME), headers=headers)

    assert response.status_code == 403, shown(response)
    assert codes_of(response) == ["FORBIDDEN"]
    assert body_of(response).get("data") is None
    assert "alice" not in response.text


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "http://testserver"}, {"Origin": ALLOWED}, {"Sec-Fetch-Site": "same-origin"}],
    ids=["no-origin", "same-origin", "allowed-origin", "sec-fetch-same-origin"],
)
async def test_a_same_site_get_with_the_session_cookie_runs(
    http: httpx.AsyncClient, alice: Persona, headers: dict[str, str]
):
    await cookie_login(http, "alice")
    response = await get(http, get_params(ME), headers=headers)
    assert response.status_code == 200 and body_of(response)["data"]["me"]["username"] == "alice", shown(
        response
    )


async def test_a_bearer_get_from_any_origin_runs(http: httpx.AsyncClient, alice: Persona):
    tokens = await bearer_login(http, "alice")
    headers = {**bearer(tokens["accessToken"]), "Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    response = await get(http, get_params(ME), headers=headers)
    assert response.status_code == 200 and body_of(response)["data"]["me"]["username"] == "alice", shown(
        response
    )


async def test_a_rejected_credential_over_get_is_401(http: httpx.AsyncClient):
    response = await get(http, get_params(ME), accept=GRAPHQL_RESPONSE_JSON, headers=bearer("nope"))
    assert response.status_code == 401, shown(response)
    assert media_type(response) == GRAPHQL_RESPONSE_JSON
    assert codes_of(response) == ["UNAUTHENTICATED"]
    assert response.headers["www-authenticate"].startswith("Bearer")


# -- GraphiQL -----------------------------------------------------------------------------


def is_graphiql(response: httpx.Response) -> bool:
    return media_type(response) == "text/html" and 'id="graphiql"' in response.text


async def test_a_browser_get_opens_graphiql_in_development(clean_backends):
    async with app_client(make_settings(app_env="development")) as client:
        bare = await get(client, {}, accept=BROWSER_ACCEPT)
        html_only = await get(client, {}, accept="text/html")
        # With a query the browser asked for a result: its list ends in */*, so JSON.
        with_query = await get(client, get_params("{ me { id } }"), accept=BROWSER_ACCEPT)

    for response in (bare, html_only):
        assert response.status_code == 200 and is_graphiql(response), shown(response)
    assert with_query.status_code == 200 and body_of(with_query) == {"data": {"me": None}}, shown(with_query)


@pytest.mark.parametrize(
    ("accept", "params"),
    [
        ("*/*", {}),
        (JSON, {}),
        (GRAPHQL_RESPONSE_JSON, {}),
        (None, {}),
        ("*/*", {"query": "{ me { id } }"}),
        ("application/json, text/html;q=0.5", {"query": "{ me { id } }"}),
        ("application/json, text/html;q=0.5", {}),
        ("text/html;q=0, */*", {}),
    ],
    ids=[
        "any-bare",
        "json-bare",
        "gql-response-bare",
        "none-bare",
        "any-query",
        "json-before-html",
        "json-before-html-bare",
        "html-refused",
    ],
)
async def test_non_browser_gets_never_get_graphiql(
    clean_backends, accept: str | None, params: dict[str, str]
):
    async with app_client(make_settings(app_env="development")) as client:
        response = await get(client, params, accept=accept)

    assert not is_graphiql(response), shown(response)
    assert media_type(response) in (JSON, GRAPHQL_RESPONSE_JSON), shown(response)
    if params:
        assert response.status_code == 200 and body_of(response) == {"data": {"me": None}}, shown(response)
    else:
        assert response.status_code == 400 and codes_of(response) == ["BAD_REQUEST"], shown(response)


async def test_production_never_serves_graphiql(clean_backends):
    async with app_client(make_settings(app_env="production")) as client:
        browser = await get(client, {}, accept=BROWSER_ACCEPT)
        html_only = await get(client, {}, accept="text/html")
        query = await get(client, get_params("{ me { id } }"), accept=BROWSER_ACCEPT)

    for response in (browser, html_only, query):
        assert "graphiql" not in response.text.lower(), shown(response)
        assert media_type(response) == JSON, shown(response)
    # A browser list ends in */*: JSON is acceptable, and the request lacks its query.
    assert browser.status_code == 400 and codes_of(browser) == ["BAD_REQUEST"], shown(browser)
    # Only HTML is acceptable, and production has none to give.
    assert html_only.status_code == 406 and codes_of(html_only) == ["BAD_REQUEST"], shown(html_only)
    assert query.status_code == 200 and body_of(query) == {"data": {"me": None}}, shown(query)


async def test_variables_in_the_query_string_are_json_text(http: httpx.AsyncClient, alice: Persona):
    """`variables` is URL-encoded JSON: a value with `&`, `=` and non-ASCII survives."""
    headers = jwt_headers(await bearer_login(http, "alice"))
    name = "ci & co = 🚀"
    document = "query Q($name: String!) { __type(name: $name) { name } }"
    response = await get(http, {"query": document, "variables": json.dumps({"name": name})}, headers=headers)
    assert response.status_code == 200 and body_of(response) == {"data": {"__type": None}}, shown(response)
