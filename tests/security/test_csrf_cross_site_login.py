"""Cross-site request forgery: another site makes the browser post to Gatehouse.

Cookie-carrying requests, and every `login`/`register` (login CSRF plants the
attacker's session), are refused with `FORBIDDEN` (403) when `Origin` is foreign or
`Sec-Fetch-Site` says cross-site. Only JSON bodies are accepted (HTML forms cannot
send them without a preflight), no mutation runs over GET (queries do, under the same
origin rules: section 6), multipart is off. Requests
authenticated by an `Authorization` header carry no ambient credential and are exempt.
"""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from tests.helpers import (
    GRAPHQL,
    LOGIN,
    ME,
    REGISTER,
    STRONG_PASSWORD,
    bearer,
    bearer_login,
    gql,
    login_variables,
    make_settings,
)

ALLOWED = "https://app.example.com"
EVIL = "https://evil.example"


@pytest.fixture
def settings() -> Settings:
    return make_settings(allowed_origins=(ALLOWED,))


def assert_forbidden(result) -> None:
    assert result.status == 403, result.body
    assert result.data is None
    assert result.codes == ["FORBIDDEN"]
    assert "set-cookie" not in result.headers


async def cookie_login(http: httpx.AsyncClient) -> None:
    result = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD, "COOKIE"))
    assert result.status == 200 and http.cookies.get("session"), result.body


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # sandboxed iframes and some redirects send this
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "https://testserver"},  # same host, other scheme: another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": ALLOWED},
    ],
    ids=["foreign", "null", "lookalike", "other-scheme", "sec-fetch-cross-site", "cross-site-wins"],
)
async def test_cross_site_login_is_refused(http: httpx.AsyncClient, alice, headers):
    result = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD, "COOKIE"), headers=headers)
    assert_forbidden(result)


async def test_cross_site_register_is_refused(http: httpx.AsyncClient):
    variables = {"input": {"username": "victim", "email": "victim@example.com", "password": STRONG_PASSWORD}}
    result = await gql(http, REGISTER, variables, headers={"Origin": EVIL})
    assert_forbidden(result)
    # Nothing was created: the same registration from the site itself works.
    same_site = await gql(http, REGISTER, variables, headers={"Origin": "http://testserver"})
    assert same_site.status == 200 and not same_site.errors, same_site.body


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},
        {"Origin": ALLOWED},
        {"Origin": ALLOWED + "/"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
        {},  # non-browser clients send neither
    ],
    ids=["same-origin", "allowed", "allowed-slash", "sec-fetch-same-origin", "both", "none"],
)
async def test_login_from_the_site_itself_or_an_allowed_origin_works(http: httpx.AsyncClient, alice, headers):
    result = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD, "COOKIE"), headers=headers)
    assert result.status == 200 and not result.errors, result.body


async def test_cookie_authenticated_mutation_from_a_foreign_origin_is_refused(http: httpx.AsyncClient, alice):
    await cookie_login(http)

    result = await gql(http, "mutation { logout }", headers={"Origin": EVIL})

    assert_forbidden(result)
    still_in = await gql(http, ME)
    assert still_in.data["me"]["username"] == "alice"  # the session survived


async def test_cookie_authenticated_query_from_a_foreign_origin_is_refused(http: httpx.AsyncClient, alice):
    await cookie_login(http)
    result = await gql(http, ME, headers={"Origin": EVIL})
    assert_forbidden(result)


async def test_bearer_requests_need_no_csrf_check(http: httpx.AsyncClient, alice):
    tokens = await bearer_login(http, "alice")
    result = await gql(http, ME, headers={**bearer(tokens["accessToken"]), "Origin": EVIL}, cookies=False)
    assert result.status == 200 and result.data["me"]["username"] == "alice", result.body


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=xyz",
        "application/graphql",
    ],
)
async def test_only_json_bodies_are_accepted(http: httpx.AsyncClient, alice, content_type):
    await cookie_login(http)
    body = '{"query": "mutation { logout }"}'
    if content_type.startswith("multipart"):
        body = (
            '--xyz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
            '{"query": "mutation { logout }"}\r\n--xyz--\r\n'
        )
    response = await http.post(GRAPHQL, content=body, headers={"Content-Type": content_type})

    assert response.status_code == 415, response.text
    payload = response.json()
    assert "data" not in payload, payload
    assert payload["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert (await gql(http, ME)).data["me"]["username"] == "alice"  # the logout never ran


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 405, "BAD_REQUEST"),
        ({"Origin": "http://testserver"}, 405, "BAD_REQUEST"),
        # The origin check comes first: a forged request learns nothing more.
        ({"Origin": EVIL}, 403, "FORBIDDEN"),
        ({"Sec-Fetch-Site": "cross-site"}, 403, "FORBIDDEN"),
    ],
    ids=["no-origin", "same-origin", "foreign", "sec-fetch-cross-site"],
)
async def test_no_mutation_runs_over_get(http: httpx.AsyncClient, alice, headers, status, code):
    await cookie_login(http)

    response = await http.get(GRAPHQL, params={"query": "mutation { logout }"}, headers=headers)

    assert response.status_code == status, response.text
    if status == 405:
        assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert (await gql(http, ME)).data["me"]["username"] == "alice"


async def test_a_query_over_get_obeys_the_origin_rules(http: httpx.AsyncClient, alice):
    """Section 6: GET runs queries, and the browser rules of section 4 apply to it."""
    await cookie_login(http)

    same_site = await http.get(GRAPHQL, params={"query": ME}, headers={"Origin": "http://testserver"})
    cross_site = await http.get(GRAPHQL, params={"query": ME}, headers={"Sec-Fetch-Site": "cross-site"})
    foreign = await http.get(GRAPHQL, params={"query": ME}, headers={"Origin": EVIL})

    assert same_site.status_code == 200 and same_site.json()["data"]["me"]["username"] == "alice"
    for refused in (cross_site, foreign):
        assert refused.status_code == 403, refused.text
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "alice" not in refused.text
