"""The fast path answers exactly what Strawberry's own execution answers."""

from __future__ import annotations

import json

import pytest

from auth.identity import ANONYMOUS
from schema.build import build_schema
from schema.errors import classify
from schema.fast_path import FastExecutor, FastRequest, read_plain_request
from tests.helpers import make_settings


class _Context:
    identity = ANONYMOUS


CASES = [
    ("anonymous me", "{ me { id username } }", None),
    ("syntax error", "{ me { id ", None),
    ("unknown field", "{ me { usernam } }", None),
    ("too many aliases", "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(40)) + " }", None),
    (
        "two credential fields",
        'mutation { a: login(input: {login: "x", password: "y"}) { user { id } } '
        'b: login(input: {login: "x", password: "y"}) { user { id } } }',
        None,
    ),
    ("wrong variable type", "query($id: ID!) { user(id: $id) { id } }", {"id": {"nested": True}}),
    ("missing variable", "query($id: ID!) { user(id: $id) { id } }", {}),
    ("permission refused", '{ user(id: "00000000-0000-0000-0000-000000000000") { id } }', None),
    ("introspection", "{ __schema { queryType { name } } }", None),
]


def _formatted(result) -> dict:
    errors = [classify(e) if not (e.extensions or {}).get("code") else e for e in (result.errors or [])]
    return {"data": result.data, "errors": sorted((e.message, e.extensions.get("code")) for e in errors)}


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
@pytest.mark.parametrize(("name", "query", "variables"), CASES, ids=[c[0] for c in CASES])
async def test_fast_path_matches_strawberry(production, name, query, variables):
    overrides = {"app_env": "production"} if production else {}
    schema = build_schema(make_settings(**overrides))
    fast = FastExecutor(schema, schema.guard_rules, schema.max_tokens)
    slow = await schema.execute(query, variable_values=variables, context_value=_Context())
    quick = await fast.execute(FastRequest(query, variables, None), _Context())
    assert _formatted(quick) == _formatted(slow)
    assert all((e.extensions or {}).get("code") for e in quick.errors or [])


async def test_a_document_with_several_operations_needs_an_operation_name():
    """The GraphQL spec's answer; Strawberry's own view quietly runs the first operation."""
    schema = build_schema(make_settings())
    fast = FastExecutor(schema, schema.guard_rules, schema.max_tokens)
    document = "query A { me { id } } query B { me { username } }"
    refused = await fast.execute(FastRequest(document, None, None), _Context())
    assert refused.data is None
    assert refused.errors[0].extensions["code"] == "BAD_USER_INPUT"
    chosen = await fast.execute(FastRequest(document, None, "B"), _Context())
    assert chosen.data == {"me": None} and not chosen.errors


async def test_each_query_text_is_parsed_and_validated_once():
    schema = build_schema(make_settings())
    fast = FastExecutor(schema, schema.guard_rules, schema.max_tokens)
    for _ in range(5):
        await fast.execute(FastRequest("{ me { id } }", None, None), _Context())
    info = fast.prepare.cache_info()
    assert (info.misses, info.hits) == (1, 4)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"query"',
        b"{}",
        b'{"query": ""}',
        b'{"query": 5}',
        b'{"query": "{ me { id } }", "variables": []}',
        b'{"query": "{ me { id } }", "operationName": 3}',
        b'{"query": "{ me { id } }", "extensions": {"persistedQuery": {}}}',
        b'{"query": "{ me { id } }", "unexpected": 1}',
        b"\xff\xfe",
        b"[" * 100_000,
        b'{"query": "{ me { id } }", "variables": {"big": 123456789012345678901234567890}}',
    ],
    ids=lambda body: body[:40].decode("latin-1"),
)
def test_anything_but_the_plain_shape_takes_the_long_way(body):
    assert read_plain_request(body) is None


def test_the_plain_shape_is_recognised():
    body = json.dumps({"query": "{ me { id } }", "variables": {"a": 1}, "operationName": "Me"}).encode()
    assert read_plain_request(body) == FastRequest("{ me { id } }", {"a": 1}, "Me")
