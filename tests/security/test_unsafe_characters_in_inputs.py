"""NUL characters and lone surrogates in GraphQL string inputs.

Issue 10, case 9: a lone surrogate in `login` or a token `name`, and on PostgreSQL a NUL in
`login`, answered 500 (the drivers cannot encode or store them). No Gatehouse field takes
either, so the request layer refuses them before anything executes, wherever they come
from: a variable (on the fast path or Strawberry's), a key of an input object, a string
literal in the document, `operationName` or `extensions`. The answer is `BAD_USER_INPUT`
naming the field.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from tests.helpers import GRAPHQL, LOGIN, CountingHasher, OpenApp, gql, make_settings

UNSAFE = ["a\x00b", "\x00", "\ud800", "x\udfffy", "\udc80\ud800"]
CREATE_TOKEN = "mutation($name: String!) { createApiToken(name: $name) { token } }"


def encoded(payload: dict[str, Any]) -> bytes:
    """JSON with `\\uXXXX` escapes, the way a client sends a lone surrogate."""
    return json.dumps(payload).encode()


async def post(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        GRAPHQL, content=body, headers={"Content-Type": "application/json", **(headers or {})}
    )


def assert_refused(response: httpx.Response, field: str | None = None) -> None:
    assert response.status_code == 200, response.text[:300]  # a wrong value (section 5)
    body = response.json()
    assert body.get("data") is None, body
    codes = [e["extensions"]["code"] for e in body["errors"]]
    assert codes and set(codes) == {"BAD_USER_INPUT"}, body
    if field is not None:
        assert any(field in (e["extensions"].get("fields") or {}) for e in body["errors"]), body


@pytest.fixture
async def counted(open_app: OpenApp) -> tuple[httpx.AsyncClient, CountingHasher]:
    hasher = CountingHasher()
    client = await open_app(make_settings(), hasher=hasher)
    return client, hasher


@pytest.mark.parametrize("text", UNSAFE)
@pytest.mark.parametrize("where", ["login", "password"])
async def test_login_variables_are_refused_before_any_password_check(counted, text: str, where: str, caplog):
    client, hasher = counted
    values = {"login": "alice", "password": "correct horse battery staple", "transport": "BEARER"}
    values[where] = text
    with caplog.at_level(logging.INFO):
        response = await post(client, encoded({"query": LOGIN, "variables": {"input": values}}))
    assert_refused(response, where)
    assert hasher.checks == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("text", UNSAFE)
async def test_strawberrys_path_refuses_them_too(counted, text: str):
    client, hasher = counted
    variables = {"input": {"login": text, "password": "pw", "transport": "BEARER"}}
    response = await post(client, encoded({"query": LOGIN, "variables": variables, "extensions": {}}))
    assert_refused(response, "login")
    assert hasher.checks == 0


@pytest.mark.parametrize("text", UNSAFE)
async def test_keys_operation_names_and_extensions_are_refused(http: httpx.AsyncClient, text: str):
    bodies = [
        {"query": LOGIN, "variables": {"input": {"login": "a", "password": "b", text: "c"}}},
        {"query": LOGIN, "variables": {text: 1}},
        {"query": LOGIN, "operationName": text},
        {"query": "{ me { id } }", "extensions": {"x": text}},
        {"query": "{ me { id } }", "extensions": {text: 1}},
    ]
    for body in bodies:
        assert_refused(await post(http, encoded(body)))


@pytest.mark.parametrize("escape", ["\\u0000", "a\\u0000b", "\\u{0}"])
@pytest.mark.parametrize("path", ["fast", "strawberry"])
async def test_nul_in_a_string_literal_is_refused_before_execution(counted, escape: str, path: str):
    client, hasher = counted
    document = 'mutation { login(input: {login: "' + escape + '", password: "pw"}) { user { id } } }'
    payload: dict[str, Any] = {"query": document}
    if path == "strawberry":
        payload["extensions"] = {}
    assert_refused(await post(client, encoded(payload)), "login")
    assert hasher.checks == 0


async def test_a_raw_nul_inside_a_block_string_literal_is_refused(counted):
    client, hasher = counted
    document = 'mutation { login(input: {login: """a\x00b""", password: "pw"}) { user { id } } }'
    assert_refused(await post(client, encoded({"query": document})), "login")
    assert hasher.checks == 0


async def test_lone_surrogates_as_raw_utf8_bytes_get_a_json_error(http: httpx.AsyncClient):
    # Not valid UTF-8: orjson refuses it, so does the fallback: unreadable JSON, a clean
    # 400 `BAD_REQUEST` (section 6), with nothing executed.
    body = (
        b'{"query": "mutation($input: LoginInput!) { login(input: $input) { user { id } } }", '
        b'"variables": {"input": {"login": "\xed\xa0\x80", "password": "pw"}}}'
    )
    response = await post(http, body)
    assert response.status_code == 400, response.text
    assert "data" not in response.json()
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]


@pytest.mark.parametrize("text", UNSAFE)
async def test_api_token_names_are_refused(http: httpx.AsyncClient, alice, text: str):
    from tests.helpers import bearer, bearer_login

    token = (await bearer_login(http, "alice"))["accessToken"]
    response = await post(http, encoded({"query": CREATE_TOKEN, "variables": {"name": text}}), bearer(token))
    assert_refused(response, "name")


async def test_ordinary_text_still_passes(http: httpx.AsyncClient, alice):
    # Non-ASCII, emoji (a surrogate pair in JSON), tabs and newlines are fine.
    for login in ("alice", "ALICE", "ålice", "al😀ice", "al\tice\n"):
        result = await gql(http, LOGIN, {"input": {"login": login, "password": "x" * 9}}, cookies=False)
        assert result.status == 401, result.body  # a failed login: past every guard
        assert result.codes == ["UNAUTHENTICATED"], result.body
