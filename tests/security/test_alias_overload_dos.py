"""Many aliases of one field in one document (work multiplied by aliasing).

More than `max_aliases` (30) aliases are refused during validation, before execution.
"""

from __future__ import annotations

from tests.helpers import gql, make_settings

MAX_ALIASES = make_settings().max_aliases


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(count)) + " }"


async def test_too_many_aliases_are_refused(http):
    result = await gql(http, aliased(MAX_ALIASES + 1))

    assert result.status == 200 and "data" not in result.body, result.body
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert result.errors[0]["message"] == f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"


async def test_aliases_hidden_in_fragments_count(http):
    fragment = "fragment F on Query { " + " ".join(f"b{i}: me {{ id }}" for i in range(MAX_ALIASES)) + " }"
    result = await gql(http, "{ x: me { id } ...F } " + fragment)

    assert "data" not in result.body, result.body
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"], result.body


async def test_aliases_up_to_the_limit_work(http):
    result = await gql(http, aliased(MAX_ALIASES))
    assert result.status == 200 and not result.errors, result.body
    assert len(result.data) == MAX_ALIASES
