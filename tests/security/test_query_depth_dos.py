"""Deeply nested queries, and deeply nested introspection (its cycles multiply work).

The depth limit (`max_query_depth`, 12) and graphql-core's introspection-depth rule
refuse such documents during validation with `GRAPHQL_VALIDATION_FAILED`, before execution.
"""

from __future__ import annotations

from tests.helpers import gql, make_settings

MAX_DEPTH = make_settings().max_query_depth


def nested(depth: int) -> str:
    """`{ me { a { a ... { id } } } }` whose leaf sits `depth` selection sets down."""
    inner = "id"
    for _ in range(depth - 1):
        inner = f"a {{ {inner} }}"
    return f"{{ me {{ {inner} }} }}"


def depth_errors(result) -> list[str]:
    return [e["message"] for e in result.errors if "exceeds maximum operation depth" in e["message"]]


async def test_a_query_deeper_than_the_limit_is_refused(http):
    result = await gql(http, nested(MAX_DEPTH + 1))

    assert result.status == 200 and "data" not in result.body, result.body
    assert depth_errors(result) == [f"'anonymous' exceeds maximum operation depth of {MAX_DEPTH}"]
    assert set(result.codes) == {"GRAPHQL_VALIDATION_FAILED"}


async def test_a_query_at_the_limit_passes_the_depth_check(http):
    result = await gql(http, nested(MAX_DEPTH))
    assert depth_errors(result) == []  # (the made-up fields are refused for other reasons)


async def test_depth_through_fragments_counts_too(http):
    fragments = (
        "".join(f"fragment F{i} on User {{ a {{ ...F{i + 1} }} }} " for i in range(MAX_DEPTH))
        + f"fragment F{MAX_DEPTH} on User {{ id }}"
    )
    result = await gql(http, "{ me { ...F0 } } " + fragments)

    assert result.data is None
    assert depth_errors(result), result.body


async def test_cyclic_introspection_is_refused(http):
    # __Type.fields -> __Field.type -> __Type.fields ... multiplies the work per level.
    deep = "{ __schema { types { " + "fields { type { " * 4 + "name" + " } }" * 4 + " } } }"
    result = await gql(http, deep)

    assert "data" not in result.body, result.body
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Maximum introspection depth exceeded" in result.errors[0]["message"]
