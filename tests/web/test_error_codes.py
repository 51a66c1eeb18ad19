"""Contract section 6, the codes before execution (refining section 5): a client tells its
own bug from a form error by the code.

- `GRAPHQL_PARSE_FAILED`: the document is not GraphQL (syntax, too many tokens).
- `GRAPHQL_VALIDATION_FAILED`: it is GraphQL but not for this schema or this server's
  bounds (unknown field, depth, aliases, credential fields, introspection in production).
- `BAD_REQUEST`: it is not a GraphQL request (unreadable JSON, a wrong content type, no
  `query`, a batch, two operations and no `operationName`).
- `BAD_USER_INPUT` stays for values: arguments and variables (tests/web/test_media_types.py).

Each is checked in both media types (the status rules are in `exchange.assert_request_error`).
"""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import GRAPHQL, REGISTER, STRONG_PASSWORD, app_client, make_settings
from tests.web.exchange import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    assert_request_error,
    body_of,
    codes_of,
    media_type,
    post,
    shown,
)

SETTINGS = make_settings()
BOTH = pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, JSON], ids=["gql-response", "json"])
# Words of internals that must never reach a client, whatever it sends.
INTERNALS = ("Traceback", "strawberry", "orjson", "JSONDecodeError", "starlette", 'File "')


def assert_no_internals(response: httpx.Response) -> None:
    for word in INTERNALS:
        assert word not in response.text, shown(response)


def nested_fields(depth: int) -> str:
    """`{ me { a { a ... { id } } } }` whose leaf sits `depth` selection sets down."""
    inner = "id"
    for _ in range(depth - 1):
        inner = f"a {{ {inner} }}"
    return f"{{ me {{ {inner} }} }}"


@BOTH
@pytest.mark.parametrize(
    "query",
    [
        "{ me { id ",
        "query { me { id } } }",
        "{ me " + "{ a " * 300 + "}" * 301,
        "{ me { " + "id " * SETTINGS.max_tokens + "} }",
        "}{",
        'mutation { login(input: {login: "a", password: "b"}) { user { id } }',
    ],
    ids=[
        "unclosed",
        "extra-brace",
        "deeply-nested-syntax",
        "over-the-token-limit",
        "garbage",
        "unclosed-mutation",
    ],
)
async def test_graphql_parse_failed(http: httpx.AsyncClient, accept: str, query: str):
    response = await post(http, {"query": query}, accept=accept)

    assert_request_error(response, "GRAPHQL_PARSE_FAILED", accept)
    assert_no_internals(response)


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(count)) + " }"


@BOTH
@pytest.mark.parametrize(
    "query",
    [
        "{ nope }",
        "{ me { id password_hash } }",
        nested_fields(SETTINGS.max_query_depth + 1),
        aliased(SETTINGS.max_aliases + 1),
        "{ __schema { types { " + "fields { type { " * 4 + "name" + " } }" * 4 + " } } }",
        'mutation { a: login(input: {login: "a", password: "bbbbbbbb"}) { user { id } } '
        'b: login(input: {login: "a", password: "cccccccc"}) { user { id } } }',
        "subscription { me { id } }",
    ],
    ids=["unknown-field", "unknown-nested", "too-deep", "too-many-aliases", "introspection-cycles",
         "two-logins", "no-subscriptions"],
)  # fmt: skip
async def test_graphql_validation_failed(http: httpx.AsyncClient, accept: str, query: str):
    response = await post(http, {"query": query}, accept=accept)

    assert_request_error(response, "GRAPHQL_VALIDATION_FAILED", accept)
    assert_no_internals(response)


@BOTH
@pytest.mark.parametrize(
    "query",
    ["{ __schema { types { name } } }", '{ __type(name: "User") { fields { name } } }', "{ mee { id } }"],
    ids=["schema", "type", "suggestion"],
)
async def test_introspection_and_suggestions_refused_in_production(clean_backends, accept: str, query: str):
    async with app_client(make_settings(app_env="production")) as client:
        response = await post(client, {"query": query}, accept=accept)
        typename = await post(client, {"query": "{ __typename }"}, accept=accept)

    assert_request_error(response, "GRAPHQL_VALIDATION_FAILED", accept)
    assert "Did you mean" not in response.text
    assert typename.status_code == 200 and body_of(typename) == {"data": {"__typename": "Query"}}


UNREADABLE_BODIES = [
    b"{not json",
    b'{ "not a JSON',
    b"",
    b"\xff\xfe\x00",
    b'{"query": "{ me { id } }"',
    b'"just a string"',
    b"42",
    b"null",
    b"true",
]
NOT_A_GRAPHQL_REQUEST = [
    {},
    {"qeury": "{ __typename }"},
    {"query": None},
    {"query": 5},
    {"query": {"obj": "ect"}},
    {"query": ["{ __typename }"]},
    {"query": False},
    {"query": "{ __typename }", "variables": "string"},
    {"query": "{ __typename }", "variables": [1]},
    {"query": "{ __typename }", "variables": 0},
    {"query": "{ __typename }", "operationName": 5},
    {"query": "{ __typename }", "operationName": {"obj": "ect"}},
    {"query": "{ __typename }", "extensions": "string"},
    {"query": "{ __typename }", "extensions": [1]},
    {"query": "{ __typename }", "extensions": False},
]
BATCHES = [
    [{"query": "{ __typename }"}],
    [{"query": "{ __typename }"}, {"query": "{ me { id } }"}],
    [],
]


@BOTH
@pytest.mark.parametrize("content", UNREADABLE_BODIES, ids=[repr(b)[:24] for b in UNREADABLE_BODIES])
async def test_unreadable_json_is_a_bad_request(http: httpx.AsyncClient, accept: str, content: bytes):
    response = await post(http, content, accept=accept)

    assert_request_error(response, "BAD_REQUEST", accept)
    assert_no_internals(response)


@BOTH
@pytest.mark.parametrize("body", NOT_A_GRAPHQL_REQUEST, ids=[str(b)[:40] for b in NOT_A_GRAPHQL_REQUEST])
async def test_a_body_that_is_not_a_graphql_request_is_a_bad_request(
    http: httpx.AsyncClient, accept: str, body
):
    response = await post(http, body, accept=accept)

    assert_request_error(response, "BAD_REQUEST", accept)


@BOTH
@pytest.mark.parametrize("body", BATCHES, ids=["one", "two", "empty"])
async def test_a_batch_is_a_bad_request(http: httpx.AsyncClient, accept: str, body):
    response = await post(http, body, accept=accept)

    assert_request_error(response, "BAD_REQUEST", accept)


@BOTH
async def test_a_deeply_nested_array_body_is_a_bad_request(http: httpx.AsyncClient, accept: str):
    response = await post(http, b"[" * 200_000 + b"]" * 200_000, accept=accept)

    assert_request_error(response, "BAD_REQUEST", accept)
    assert_no_internals(response)


@BOTH
@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"query { me { id } }", "text/plain"),
        (b"query { me { id } }", "application/graphql"),
        (b"query=%7Bme%7Bid%7D%7D", "application/x-www-form-urlencoded"),
        (b'{"query": "{ me { id } }"}', "text/plain;charset=utf-8"),
        (b'{"query": "{ me { id } }"}', None),
        (
            b'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
            b'{"query": "{ me { id } }"}\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
        ),
        (b'{"query": "{ me { id } }"}', "application/jsonx"),
    ],
    ids=["text", "application-graphql", "form", "json-as-text", "none", "multipart", "lookalike"],
)
async def test_a_wrong_content_type_is_415_bad_request(
    http: httpx.AsyncClient, accept: str, content: bytes, content_type: str | None
):
    response = await post(http, content, accept=accept, content_type=content_type)

    assert response.status_code == 415, shown(response)
    assert codes_of(response) == ["BAD_REQUEST"], shown(response)
    assert media_type(response) == accept, shown(response)
    assert response.headers["cache-control"] == "no-store"
    if accept == GRAPHQL_RESPONSE_JSON:
        assert "data" not in body_of(response)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"]
)
async def test_json_with_parameters_or_any_case_is_accepted(http: httpx.AsyncClient, content_type: str):
    response = await post(http, {"query": "{ __typename }"}, content_type=content_type)
    assert response.status_code == 200 and body_of(response) == {"data": {"__typename": "Query"}}, shown(
        response
    )


TWO_OPERATIONS = "query A { me { id } } query B { __typename }"


@BOTH
@pytest.mark.parametrize(
    "extra",
    [{}, {"extensions": {}}, {"variables": {}}, {"operationName": None}, {"extensions": {"some": "value"}}],
    ids=["bare", "extensions", "variables", "null-name", "other-extensions"],
)
async def test_two_operations_without_an_operation_name_are_a_bad_request(
    http: httpx.AsyncClient, accept: str, extra: dict
):
    """Issue 11: the fast path and Strawberry's path answered this differently depending on
    whether the body carried `"extensions": {}`; one pipeline answers it one way."""
    response = await post(http, {"query": TWO_OPERATIONS, **extra}, accept=accept)

    assert_request_error(response, "BAD_REQUEST", accept)


@BOTH
async def test_an_operation_name_that_names_no_operation_is_a_bad_request(
    http: httpx.AsyncClient, accept: str
):
    response = await post(http, {"query": TWO_OPERATIONS, "operationName": "C"}, accept=accept)
    assert_request_error(response, "BAD_REQUEST", accept)
    single = await post(http, {"query": "query A { __typename }", "operationName": "B"}, accept=accept)
    assert_request_error(single, "BAD_REQUEST", accept)


@BOTH
async def test_the_named_operation_runs(http: httpx.AsyncClient, accept: str):
    response = await post(http, {"query": TWO_OPERATIONS, "operationName": "B"}, accept=accept)
    assert response.status_code == 200 and body_of(response) == {"data": {"__typename": "Query"}}, shown(
        response
    )


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ __typename }", "variables": None, "operationName": None, "extensions": None},
        {"query": "{ __typename }", "extensions": {"some": "value"}},
        {"query": "query Query { __typename }", "operationName": "Query"},
        {"query": "{ __typename }", "unknownKey": 1},
    ],
    ids=["nulls", "extensions", "operation-name", "unknown-key"],
)
async def test_well_formed_requests_run_without_errors(http: httpx.AsyncClient, body):
    response = await post(http, body, accept=GRAPHQL_RESPONSE_JSON)
    assert response.status_code == 200, shown(response)
    assert body_of(response) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405_naming_get_and_post(http: httpx.AsyncClient, method: str):
    response = await http.request(method, GRAPHQL, json={"query": "{ me { id } }"}, headers={"Accept": JSON})

    assert response.status_code == 405, shown(response)
    allowed = {m.strip().upper() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed, shown(response)
    assert codes_of(response) == ["BAD_REQUEST"], shown(response)


async def test_an_unknown_code_never_appears(http: httpx.AsyncClient):
    """Every answer of this module's requests carries one of the contract's codes."""
    known = {
        "UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "RATE_LIMITED", "INTERNAL_SERVER_ERROR",
        "PAYLOAD_TOO_LARGE", "SERVICE_UNAVAILABLE", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED",
        "BAD_REQUEST", "PERSISTED_QUERY_NOT_FOUND",
    }  # fmt: skip
    variables = {"input": {"username": 1, "email": "x", "password": STRONG_PASSWORD}}
    requests = [
        *({"query": q} for q in ("{", "{ nope }", TWO_OPERATIONS)),
        {"query": REGISTER, "variables": variables},
        *NOT_A_GRAPHQL_REQUEST,
    ]
    for body in requests:
        response = await post(http, body)
        assert response.status_code < 500, shown(response)
        assert set(codes_of(response)) <= known and codes_of(response), shown(response)
