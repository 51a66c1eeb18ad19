"""What a production server tells an attacker: no schema (introspection), no GraphiQL,
no "Did you mean" hints, no internals in unexpected errors; while permission and input
errors stay readable. Its cookie is `__Host-session`, `Secure`; Basic needs HTTPS."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from services import accounts
from tests.helpers import (
    GRAPHQL,
    LOGIN,
    ME,
    REGISTER,
    STRONG_PASSWORD,
    basic,
    bearer,
    bearer_login,
    gql,
    login_variables,
    make_settings,
)

SECRET_DETAIL = "password=hunter2 at /srv/gatehouse/secret_module.py line 42"


@pytest.fixture
def settings() -> Settings:
    return make_settings(app_env="production")


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { name } } }",
        '{ __type(name: "User") { fields { name } } }',
        "query IntrospectionQuery { __schema { queryType { name } } }",
    ],
)
async def test_introspection_is_refused(http: httpx.AsyncClient, query):
    result = await gql(http, query)

    assert "data" not in result.body, result.body
    assert set(result.codes) == {"GRAPHQL_VALIDATION_FAILED"}
    assert all("introspection has been disabled" in e["message"] for e in result.errors)


async def test_typename_still_works(http: httpx.AsyncClient):
    result = await gql(http, "{ __typename }")
    assert result.data == {"__typename": "Query"}


async def test_no_graphiql_on_get(http: httpx.AsyncClient):
    """Production has no HTML to give: a browser asking for HTML alone gets 406, one whose
    list ends in `*/*` the JSON error of a GET without a query (section 6)."""
    html_only = await http.get(GRAPHQL, headers={"Accept": "text/html"})
    browser = await http.get(GRAPHQL, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    for response, status in ((html_only, 406), (browser, 400)):
        assert response.status_code == status, response.text
        assert "graphiql" not in response.text.lower()
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    "query",
    ["{ mee { id } }", "{ me { usernam } }", "mutation { logn(input: {}) { user { id } } }"],
)
async def test_no_field_suggestions(http: httpx.AsyncClient, query):
    result = await gql(http, query)

    assert result.codes and set(result.codes) == {"GRAPHQL_VALIDATION_FAILED"}, result.body
    assert "Did you mean" not in str(result.body)


# graphql-core suggests names in many messages besides unknown fields; Strawberry's
# `disable_field_suggestions` strips only "Cannot query field ...". Each case below
# is refused in production without a hint, and keeps its hint in development.
SUGGESTION_CASES = [
    ("unknown argument", "{ users(firs: 5) { totalCount } }", None),
    ("unknown mutation argument", "mutation { logout(everywher: true) }", None),
    ("unknown directive argument", "{ me @skip(iff: true) { id } }", None),
    ("unknown type in a fragment", "{ ...F } fragment F on Querry { me { id } }", None),
    ("unknown type in an inline fragment", "{ ... on Querry { me { id } } }", None),
    ("unknown type of a variable", "query($i: LoginInptu!) { __typename }", None),
    (
        "unknown enum value inline",
        'mutation { login(input: {login: "a", password: "b", transport: BEARE}) { user { id } } }',
        None,
    ),
    (
        "unknown enum value in a variable",
        LOGIN,
        {"input": {"login": "a", "password": "b", "transport": "BEARE"}},
    ),
    ("unknown enum value as a variable default", "query($t: Transport = BEARE) { __typename }", None),
    (
        "unknown input field inline",
        'mutation { login(input: {login: "a", pasword: "b"}) { user { id } } }',
        None,
    ),
    ("unknown input field in a variable", LOGIN, {"input": {"login": "a", "pasword": "b", "password": "c"}}),
]
# A body with `extensions` once took another path than one without; one pipeline now, both kept.
PATHS = {"bare": None, "with extensions": {"trace": False}}


async def _post(client: httpx.AsyncClient, query: str, variables, extensions) -> httpx.Response:
    body: dict[str, object] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if extensions is not None:
        body["extensions"] = extensions
    return await client.post(GRAPHQL, json=body)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("name", "query", "variables"), SUGGESTION_CASES, ids=[c[0] for c in SUGGESTION_CASES]
)
async def test_no_suggestions_for_arguments_types_enum_values_or_input_fields(
    http: httpx.AsyncClient, open_app, path, name, query, variables
):
    production = await _post(http, query, variables, PATHS[path])
    errors = production.json()["errors"]
    # Section 6: a wrong variable value is BAD_USER_INPUT, a wrong document GRAPHQL_VALIDATION_FAILED.
    expected = "BAD_USER_INPUT" if variables is not None else "GRAPHQL_VALIDATION_FAILED"
    assert errors and {e["extensions"]["code"] for e in errors} == {expected}, production.text
    assert "Did you mean" not in production.text

    development = await open_app(make_settings(app_env="development"))
    hinted = await _post(development, query, variables, PATHS[path])
    assert "Did you mean" in hinted.text  # the hint is kept where it helps


async def test_unexpected_errors_are_masked(http: httpx.AsyncClient, monkeypatch, caplog):
    async def broken_login(*args, **kwargs):
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setattr(accounts, "login", broken_login)

    result = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)

    assert result.status == 500, result.body
    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    assert result.errors[0]["message"] == "Internal server error."
    assert "hunter2" not in str(result.body) and "secret_module" not in str(result.body)
    assert "RuntimeError" not in str(result.body)
    # The operator still gets the details, server-side.
    assert any("unexpected error" in r.getMessage() for r in caplog.records)


async def test_permission_errors_stay_readable(http: httpx.AsyncClient, alice):
    tokens = await bearer_login(http, "alice")
    result = await gql(http, "{ users { totalCount } }", headers=bearer(tokens["accessToken"]), cookies=False)

    assert result.status == 403, result.body
    assert result.codes == ["FORBIDDEN"]
    assert result.errors[0]["message"] == "Requires the admin role."


async def test_input_errors_stay_readable(http: httpx.AsyncClient):
    variables = {"input": {"username": "x", "email": "not-an-email", "password": "short"}}
    result = await gql(http, REGISTER, variables, cookies=False)

    assert result.codes == ["BAD_USER_INPUT"], result.body
    fields = result.errors[0]["extensions"]["fields"]
    assert set(fields) == {"username", "email", "password"}


async def test_login_cookie_is_host_prefixed_and_secure(http: httpx.AsyncClient, alice):
    result = await gql(
        http,
        LOGIN,
        login_variables("alice", STRONG_PASSWORD, "COOKIE"),
        headers={"X-Forwarded-Proto": "https"},
        cookies=False,
    )

    assert result.status == 200, result.body
    cookies = result.headers.get_list("set-cookie")
    assert len(cookies) == 1 and cookies[0].startswith("__Host-session="), cookies
    attributes = {part.strip().split("=")[0].lower() for part in cookies[0].split(";")[1:]}
    assert {"secure", "httponly", "path"} <= attributes
    assert "domain" not in attributes
    assert "path=/" in cookies[0].lower() and "samesite=lax" in cookies[0].lower()
    assert result.headers["cache-control"] == "no-store"


async def test_a_plain_session_cookie_is_ignored_in_production(http: httpx.AsyncClient, alice):
    login = await gql(
        http,
        LOGIN,
        login_variables("alice", STRONG_PASSWORD, "COOKIE"),
        headers={"X-Forwarded-Proto": "https"},
    )
    value = login.cookies.get("__Host-session")
    assert value
    result = await gql(http, ME, headers={"Cookie": f"session={value}"}, cookies=False)
    assert result.data == {"me": None}


async def test_basic_over_plain_http_is_refused(http: httpx.AsyncClient, alice):
    plain = await gql(http, ME, headers=basic("alice", STRONG_PASSWORD), cookies=False)
    assert plain.status == 401 and plain.codes == ["UNAUTHENTICATED"], plain.body
    assert "HTTPS" in plain.errors[0]["message"]

    behind_tls_proxy = await gql(
        http, ME, headers={**basic("alice", STRONG_PASSWORD), "X-Forwarded-Proto": "https"}, cookies=False
    )
    assert behind_tls_proxy.data["me"]["username"] == "alice", behind_tls_proxy.body
