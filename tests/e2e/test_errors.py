"""Errors through the real app: always a code, never internals, never a stray 500, never cached."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from services import accounts, credentials
from tests.helpers import GRAPHQL, ME, REGISTER, STRONG_PASSWORD, Persona, bearer_login, gql, jwt_headers

KNOWN_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "RATE_LIMITED",
    "INTERNAL_SERVER_ERROR",
    "PAYLOAD_TOO_LARGE",
    "SERVICE_UNAVAILABLE",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_REQUEST",
    "PERSISTED_QUERY_NOT_FOUND",
}
SECRET = "secret internals"


def _assert_coded(body: dict[str, Any]) -> None:
    assert body.get("errors"), body
    for error in body["errors"]:
        assert isinstance(error.get("message"), str), error
        assert (error.get("extensions") or {}).get("code") in KNOWN_CODES, error


def _raise_secret(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(SECRET)


async def test_unexpected_error_in_a_query_is_masked(http, alice: Persona, monkeypatch, caplog):
    headers = jwt_headers(await bearer_login(http, "alice"))
    monkeypatch.setattr(credentials, "list_live", _raise_secret)

    with caplog.at_level(logging.ERROR):
        result = await gql(http, "query { myCredentials { id } }", headers=headers, cookies=False)

    assert result.status == 500
    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    assert SECRET not in str(result.body)
    assert "RuntimeError" not in str(result.body)
    assert result.headers["cache-control"] == "no-store"
    # The trace goes to the log, for the operator.
    assert any(
        SECRET in (r.exc_text or "") or (r.exc_info and SECRET in str(r.exc_info[1])) for r in caplog.records
    )


async def test_unexpected_error_in_a_mutation_is_masked(http, monkeypatch):
    monkeypatch.setattr(accounts, "register", _raise_secret)
    variables = {"input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}}
    result = await gql(http, REGISTER, variables)
    assert result.status == 500
    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    assert SECRET not in str(result.body)
    assert "set-cookie" not in result.headers


async def test_unexpected_error_beside_data_keeps_status_200(http, alice: Persona, monkeypatch):
    headers = jwt_headers(await bearer_login(http, "alice"))
    monkeypatch.setattr(credentials, "list_live", _raise_secret)
    # `user` is nullable, so `me` survives next to the failing field.
    monkeypatch.setattr("services.users.User", None)
    result = await gql(
        http, f'query {{ me {{ id }} user(id: "{alice.id}") {{ id }} }}', headers=headers, cookies=False
    )
    assert result.status == 200, result.body
    assert result.data["me"]["id"] == alice.id
    assert result.data["user"] is None
    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    assert "NoneType" not in str(result.body)


async def test_permission_error_beside_data_keeps_status_200(http, alice: Persona, bob: Persona):
    headers = jwt_headers(await bearer_login(http, "bob"))
    query = f'query {{ me {{ id }} user(id: "{alice.id}") {{ email }} }}'
    result = await gql(http, query, headers=headers, cookies=False)
    assert result.status == 200
    assert result.data["me"]["id"] == bob.id
    assert result.codes == ["FORBIDDEN"]


async def _post(http: httpx.AsyncClient, content: bytes, content_type: str | None = "application/json"):
    headers = {"content-type": content_type} if content_type else {}
    return await http.post(GRAPHQL, content=content, headers=headers)




@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST"),
        (b"", "application/json", 400, "BAD_REQUEST"),
        (b"\xff\xfe\x00", "application/json", 400, "BAD_REQUEST"),
        (b"[" * 200_000 + b"]" * 200_000, "application/json", 400, "BAD_REQUEST"),
        # A variable value nested too deep is a wrong value (tests/security/test_deeply_nested_variables.py).
        (
            b'{"query": "{ me { id } }", "variables": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
            "application/json",
            400,
            "BAD_USER_INPUT",
        ),
        (b'"just a string"', "application/json", 400, "BAD_REQUEST"),
        (b"42", "application/json", 400, "BAD_REQUEST"),
        (b"null", "application/json", 400, "BAD_REQUEST"),
        (b"{}", "application/json", 400, "BAD_REQUEST"),
        (b'{"query": 5}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ me { id } }", "variables": [1]}', "application/json", 400, "BAD_REQUEST"),
        (b'[{"query": "{ me { id } }"}]', "application/json", 400, "BAD_REQUEST"),
        (b"query { me { id } }", "text/plain", 415, "BAD_REQUEST"),
        (b"query=%7Bme%7Bid%7D%7D", "application/x-www-form-urlencoded", 415, "BAD_REQUEST"),
        (b'{"query": "{ me { id } }"}', None, 415, "BAD_REQUEST"),
        (b'{"query": "{ me { id } }"}', "multipart/form-data; boundary=x", 415, "BAD_REQUEST"),
    ],
)
async def test_malformed_requests_get_json_errors(
    http, content: bytes, content_type: str | None, status: int, code: str
):
    """Section 6: the request itself is at fault, so nothing executed: no `data` key."""
    response = await _post(http, content, content_type)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert "data" not in body, body
    _assert_coded(body)
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ me { id ", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ me { id password_hash } }", "GRAPHQL_VALIDATION_FAILED"),
        ("subscription { me }", "GRAPHQL_VALIDATION_FAILED"),
        ('mutation { logout(everywhere: "yes") }', "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_query_documents_the_schema_refuses_get_a_code(http, query: str, code: str):
    """Section 6 refines section 5: a document that does not parse or validate has its own
    code, and with `application/json` it is still answered 200, with no `data` key."""
    result = await gql(http, query)
    assert result.status == 200, result.body
    assert "data" not in result.body, result.body
    _assert_coded(result.body)
    assert set(result.codes) == {code}, result.body


async def test_get_runs_queries_and_never_mutations(http):
    """Section 6: GET runs queries; a mutation over GET is 405 with `Allow: POST`."""
    query = await http.get(GRAPHQL, params={"query": "{ me { id } }"}, headers={"accept": "application/json"})
    assert query.status_code == 200 and query.json() == {"data": {"me": None}}, query.text
    assert query.headers["cache-control"] == "no-store"

    mutation = await http.get(
        GRAPHQL, params={"query": "mutation { logout }"}, headers={"accept": "application/json"}
    )
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"
    assert mutation.headers["cache-control"] == "no-store"
    _assert_coded(mutation.json())
    assert mutation.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"

    nothing = await http.get(GRAPHQL, params={}, headers={"accept": "application/json"})
    assert nothing.status_code == 400
    assert nothing.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_get_json_errors(http, method: str):
    response = await http.request(method, GRAPHQL, json={"query": "{ me { id } }"})
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "POST"}
    assert response.headers["content-type"].startswith("application/json")
    _assert_coded(response.json())
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_oversized_body_is_413(http):
    response = await _post(http, b'{"query": "' + b" " * (1024 * 1024 + 1) + b'{ me { id } }"}')
    assert response.status_code == 413
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    _assert_coded(body)
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_every_error_of_a_busy_session_carries_a_code(http, alice: Persona, bob: Persona):
    bob_headers = jwt_headers(await bearer_login(http, "bob"))
    answers = [
        await gql(http, "query { myCredentials { id } }"),
        await gql(http, "query { users { totalCount } }", headers=bob_headers, cookies=False),
        await gql(
            http, f'query {{ user(id: "{alice.id}") {{ email }} }}', headers=bob_headers, cookies=False
        ),
        await gql(http, ME, headers={"Authorization": "Bearer nope"}, cookies=False),
        await gql(
            http, 'mutation { login(input: {login: "alice", password: "wrong password"}) { user { id } } }'
        ),
        await gql(http, 'mutation { revokeCredential(id: "nope") }', headers=bob_headers, cookies=False),
        await gql(http, 'mutation { refreshToken(refreshToken: "nope") { accessToken } }'),
        await gql(http, REGISTER, {"input": {"username": 1}}),
    ]
    for answer in answers:
        _assert_coded(answer.body)


@pytest.mark.parametrize(
    ("query", "variables", "auth"),
    [
        (ME, None, False),
        (ME, None, True),
        ("query { myCredentials { id } }", None, False),
        ("{ nope }", None, False),
        (
            REGISTER,
            {
                "input": {
                    "username": "dave",
                    "email": "dave@example.com",
                    "password": STRONG_PASSWORD,
                    "transport": "BEARER",
                }
            },
            False,
        ),
    ],
)
async def test_responses_are_never_cached(http, alice: Persona, query: str, variables: Any, auth: bool):
    headers = jwt_headers(await bearer_login(http, "alice")) if auth else None
    result = await gql(http, query, variables, headers=headers, cookies=False)
    assert result.headers["cache-control"] == "no-store"


async def test_healthz_answers_ok(http):
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
