"""JSON nested deep enough to exhaust the interpreter's stack, in a body under 1 KB.

Issue 10, case 2: `variables` nested about 330 levels deep raised `RecursionError` outside
any handler on the fast path, answering a plain-text 500 with about 100 KB of traceback
in the log per request, production included. Every JSON value a request brings
(`variables`, `extensions`, anything else in the body) and every object or list literal
in the document may nest at most `MAX_INPUT_DEPTH` (32) objects or lists; deeper input is
refused before anything executes with `BAD_USER_INPUT` and logs nothing: 400 for a body
value (the request itself is malformed), 200 for a literal in the document (a validation
error, a wrong value like any other: section 5).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests.helpers import (
    GRAPHQL,
    LOGIN,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    CountingHasher,
    OpenApp,
    make_settings,
    reset_postgres,
    run,
)
from tests.helpers.processes import GatehouseServer

LIMIT = 32  # schema/input_limits.py MAX_INPUT_DEPTH
DEEP = 330  # the depth of the report
LOGIN_INPUT = "mutation($input: LoginInput!) { login(input: $input) { user { id } } }"
# A document that uses its variable (an unused one fails validation before coercion).
STRING_VARIABLE = "query($x: String) { users(after: $x) { totalCount } }"


@pytest.fixture
def settings() -> Settings:
    return make_settings(app_env="production")


def nested(depth: int, kind: str = "object") -> Any:
    """A value of `depth` nested objects (or lists) around a string."""
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value} if kind == "object" else [value]
    return value


def raw_nested(depth: int, kind: str = "list") -> str:
    """The JSON text of `nested(depth)`, built as text: `json.dumps` itself overflows on deep values."""
    if kind == "list":
        return "[" * depth + '"x"' + "]" * depth
    return '{"a":' * depth + '"x"' + "}" * depth


async def post(client: httpx.AsyncClient, body: str | bytes) -> httpx.Response:
    return await client.post(GRAPHQL, content=body, headers={"Content-Type": "application/json"})


def assert_refused_as_too_deep(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text[:300]
    body = response.json()
    assert "data" not in body, body  # refused before anything executed
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert str(LIMIT) in error["message"]
    return dict(error["extensions"])


def assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]


@pytest.mark.parametrize("kind", ["object", "list"])
async def test_deep_variables_on_the_fast_path_are_refused_before_execution(
    open_app: OpenApp, kind: str, caplog: pytest.LogCaptureFixture
):
    hasher = CountingHasher()
    client = await open_app(make_settings(app_env="production"), hasher=hasher)
    body = json.dumps({"query": LOGIN_INPUT, "variables": {"input": nested(DEEP, kind)}})
    assert len(body) < 4096

    with caplog.at_level(logging.INFO):
        extensions = assert_refused_as_too_deep(await post(client, body))

    assert extensions["fields"] == {"input": extensions["fields"]["input"]}
    assert hasher.checks == 0
    assert_quiet(caplog)


@pytest.mark.parametrize("depth", [LIMIT + 1, 100, 990, 1100, 100_000])
async def test_every_depth_over_the_limit_is_refused(http: httpx.AsyncClient, depth: int, caplog):
    # Past orjson's own limit (1024) Python's reader takes over; past the interpreter's,
    # `json` itself overflows: every one of them is the same 400.
    body = '{"query": "' + STRING_VARIABLE + '", "variables": {"x": ' + raw_nested(depth) + "}}"
    with caplog.at_level(logging.INFO):
        assert_refused_as_too_deep(await post(http, body))
    assert_quiet(caplog)


async def test_the_limit_itself_is_accepted(http: httpx.AsyncClient):
    # A variable whose value nests exactly 32 lists reaches graphql-core's coercion,
    # which refuses it for its type (a list is no String): an ordinary input error.
    body = '{"query": "' + STRING_VARIABLE + '", "variables": {"x": ' + raw_nested(LIMIT) + "}}"
    response = await post(http, body)
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert str(LIMIT) not in error["message"]


@pytest.mark.parametrize("where", ["variables", "extensions", "other"])
async def test_deep_values_on_strawberrys_path_are_refused(http: httpx.AsyncClient, where: str, caplog):
    # `extensions` or an unknown key once sent the body through Strawberry's own view.
    deep = raw_nested(DEEP, "object")
    if where == "variables":
        body = '{"query": "' + STRING_VARIABLE + '", "variables": {"x": ' + deep + '}, "extensions": {}}'
    elif where == "extensions":
        body = '{"query": "{ me { id } }", "extensions": {"x": ' + deep + "}}"
    else:
        body = '{"query": "{ me { id } }", "padding": ' + deep + "}"
    with caplog.at_level(logging.INFO):
        assert_refused_as_too_deep(await post(http, body))
    assert_quiet(caplog)


@pytest.mark.parametrize("kind", ["object", "list"])
async def test_deep_literals_in_the_document_are_refused(open_app: OpenApp, kind: str):
    hasher = CountingHasher()
    client = await open_app(make_settings(app_env="production"), hasher=hasher)
    inner = "{a: " * 40 + "1" + "}" * 40 if kind == "object" else "[" * 40 + "1" + "]" * 40
    document = (
        'mutation { login(input: {login: "alice", password: "pw", extra: ' + inner + "}) { user { id } } }"
    )
    for body in (
        json.dumps({"query": document}),
        json.dumps({"query": document, "extensions": {}}),  # once another path; one pipeline now
    ):
        response = await post(client, body)
        assert response.status_code == 200, response.text  # a validation error: section 5
        answer = response.json()
        assert "data" not in answer, answer
        errors = answer["errors"]
        # Beside graphql-core's own "unknown field 'extra'" (the document is wrong), the depth
        # bound's refusal, a wrong value naming the nearest field around the container that
        # went too deep (section 6 keeps BAD_USER_INPUT, with `fields`, for values).
        field = "a" if kind == "object" else "extra"
        too_deep = f"Invalid value at '{field}': The value nests more than {LIMIT} objects or lists."
        by_message = {e["message"]: e["extensions"] for e in errors}
        assert by_message.pop(too_deep) == {"code": "BAD_USER_INPUT", "fields": {field: too_deep}}, errors
        assert by_message and {x["code"] for x in by_message.values()} == {"GRAPHQL_VALIDATION_FAILED"}, (
            errors
        )
    assert hasher.checks == 0


async def test_a_deep_value_in_a_batch_is_refused(http: httpx.AsyncClient):
    """A batch is refused whatever it holds (section 6: `BAD_REQUEST`), unread."""
    body = '[{"query": "' + STRING_VARIABLE + '", "variables": {"x": ' + raw_nested(DEEP) + "}}]"
    response = await post(http, body)
    assert response.status_code == 400, response.text[:300]
    assert "data" not in response.json()
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]


@pytest.mark.parametrize("where", ["execution", "authentication"])
async def test_a_recursion_error_left_anywhere_is_a_json_500_and_one_log_line(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, where: str
):
    # Defence in depth: should some other walk still overflow, no plain-text 500 and no
    # traceback of a thousand frames.
    async def overflow(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    if where == "execution":
        monkeypatch.setattr("schema.engine.base.Engine.execute", overflow)
    else:
        monkeypatch.setattr("auth.authenticate.Authenticator.authenticate", overflow)
    with caplog.at_level(logging.INFO):
        response = await post(http, json.dumps({"query": "{ me { id } }"}))
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "recursion limit reached while handling a request"
    ]
    assert not any(r.exc_info for r in caplog.records)


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatehouseServer]:
    """`python main.py serve` in production, as the report ran it."""
    workdir = tmp_path_factory.mktemp("deep")
    if TEST_DATABASE_URL:
        run(reset_postgres(TEST_DATABASE_URL))
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": TEST_DATABASE_URL or f"sqlite://{Path(workdir) / 'deep.db'}",
        "REDIS_URL": TEST_REDIS_URL or "",
    }
    with GatehouseServer(env) as server:
        yield server


@pytest.mark.server
def test_over_real_uvicorn_in_production_no_500_and_no_traceback(production_server: GatehouseServer):
    before = len(production_server.output())
    bodies = [
        json.dumps({"query": LOGIN_INPUT, "variables": {"input": nested(DEEP)}}),
        json.dumps({"query": LOGIN, "variables": {"input": nested(DEEP, "list")}}),
        '{"query": "' + STRING_VARIABLE + '", "variables": {"x": ' + raw_nested(5000) + "}}",
    ]
    with httpx.Client(base_url=production_server.url, timeout=10) as client:
        for _ in range(20):
            for body in bodies:
                response = client.post(GRAPHQL, content=body, headers={"Content-Type": "application/json"})
                assert response.status_code == 400, response.text[:300]
                assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    logged = production_server.output()[before:]
    assert "Traceback" not in logged and "RecursionError" not in logged, logged[:2000]
    assert len(logged) < 2000, logged[:2000]
