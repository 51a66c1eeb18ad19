"""`schema/input_limits.py`: the walks never recurse, stop at the first problem and name it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import parse, validate

from core.errors import BadUserInput
from schema.input_limits import (
    MAX_INPUT_DEPTH,
    TOO_DEEP,
    UNSAFE_TEXT,
    SafeLiterals,
    check_body,
    check_variables,
    scan_json,
    unsafe_text,
)
from web.graphql import _params


def nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for n in range(depth):
        value = {"k": value} if n % 2 else [value]
    return value


@pytest.mark.parametrize(
    ("text", "unsafe"),
    [("plain", False), ("é😀", False), ("a\x00", True), ("\ud800", True), ("é\udfff", True), ("", False)],
)
def test_unsafe_text(text: str, unsafe: bool):
    assert unsafe_text(text) is unsafe


def test_depth_is_counted_in_containers():
    assert scan_json(nested(MAX_INPUT_DEPTH)).problem is None
    assert scan_json(nested(MAX_INPUT_DEPTH + 1)).problem == TOO_DEEP
    assert scan_json("scalar").problem is None


def test_a_million_levels_are_refused_without_descending_into_them():
    value: Any = 1
    for _ in range(1_000_000):
        value = [value]
    assert scan_json(value).problem == TOO_DEEP


def test_floats_are_reported_and_problems_name_their_key():
    assert scan_json({"a": [{"b": 1.5}], "c": "ok"}) == (None, None, True)
    scan = scan_json({"a": 1.5, "b": ["\x00"]})
    assert scan.problem == UNSAFE_TEXT and scan.key == "b"


def test_check_variables_names_the_field():
    with pytest.raises(BadUserInput) as deep:
        check_variables({"input": nested(40)})
    assert deep.value.fields == {"input": TOO_DEEP}
    with pytest.raises(BadUserInput) as nul:
        check_variables({"input": {"login": "a\x00", "password": "x"}})
    assert nul.value.fields == {"login": UNSAFE_TEXT}
    with pytest.raises(BadUserInput) as key:
        check_variables({"input": {"\ud800": "x"}})
    assert key.value.fields == {"input": UNSAFE_TEXT}  # the unsafe key itself is never echoed
    assert check_variables({"n": 2.5}) is True
    assert check_variables({"n": 2, "s": "ok"}) is False


def test_check_body_walks_every_member_and_batch_item():
    check_body({"query": "{ me { id } }", "variables": {"x": nested(MAX_INPUT_DEPTH)}, "extensions": {}})
    for body, field in (
        ({"query": "{ me }", "extensions": {"a": nested(MAX_INPUT_DEPTH + 1)}}, "extensions"),
        ({"query": "{ me }", "operationName": "\ud800"}, "operationName"),
        ([{"query": "{ me }"}, {"query": "\x00"}], "query"),
        ([nested(MAX_INPUT_DEPTH + 3)], "body"),  # an item that is no object
    ):
        with pytest.raises(BadUserInput) as refused:
            check_body(body)
        assert list(refused.value.fields) == [field]


def test_the_request_reader_refuses_deep_variables_and_unsafe_names():
    plain = _params({"query": "{ me { id } }", "variables": {}})
    assert plain.variables == {}
    with pytest.raises(BadUserInput):
        _params({"query": "{ me }", "variables": {"x": nested(40)}})
    with pytest.raises(BadUserInput):
        _params({"query": "{ me }", "operationName": "a\x00"})
    # An integer past 64 bits, which orjson reads as a float, is read again exactly.
    exact = json.dumps({"query": "{ me }", "variables": {"n": 2**70}}).encode()
    assert _params({"query": "{ me }", "variables": {"n": float(2**70)}}, exact).variables == {"n": 2**70}


def literal_errors(document: str) -> list[str]:
    from schema.build import build_schema
    from tests.helpers import make_settings

    schema = build_schema(make_settings())._schema
    return [e.message for e in validate(schema, parse(document), [SafeLiterals])]


def test_literals_deeper_than_the_limit_are_reported_once():
    deep = "[" * (MAX_INPUT_DEPTH + 5) + '"x"' + "]" * (MAX_INPUT_DEPTH + 5)
    errors = literal_errors("{ users(after: " + deep + ") { nodes { id } } }")
    assert errors == [f"Invalid value at 'after': {TOO_DEEP}"]
    at_limit = "[" * MAX_INPUT_DEPTH + '"x"' + "]" * MAX_INPUT_DEPTH
    assert literal_errors("{ users(after: " + at_limit + ") { nodes { id } } }") == []


def test_string_literals_with_a_nul_are_reported_with_their_field():
    errors = literal_errors('mutation { login(input: {login: "a\\u0000", password: "p"}) { tokenType } }')
    assert errors == [f"Invalid value at 'login': {UNSAFE_TEXT}"]
    assert literal_errors('mutation { login(input: {login: "ålice", password: "p"}) { tokenType } }') == []
