"""Huge documents that cost parsing and validation time: more than `max_tokens` (2000)
lexical tokens are refused while parsing, with `GRAPHQL_PARSE_FAILED`."""

from __future__ import annotations

from tests.helpers import GRAPHQL, gql, make_settings

MAX_TOKENS = make_settings().max_tokens


async def test_a_document_over_the_token_limit_is_refused(http):
    document = "{ me { " + "id " * MAX_TOKENS + "} }"

    result = await gql(http, document)

    assert result.status == 200 and "data" not in result.body, result.body
    assert result.codes == ["GRAPHQL_PARSE_FAILED"]
    assert f"more than {MAX_TOKENS} tokens" in result.errors[0]["message"]


async def test_a_document_just_under_the_token_limit_runs(http):
    # 8 tokens per operation: `query Qn { me { id } }`.
    operations = (MAX_TOKENS - 2) // 8
    document = " ".join(f"query Q{i} {{ me {{ id }} }}" for i in range(operations))
    response = await http.post(GRAPHQL, json={"query": document, "operationName": "Q0"})
    assert response.status_code == 200 and response.json() == {"data": {"me": None}}, response.text


async def test_deeply_nested_syntax_is_refused_as_input_error(http):
    document = "{ me " + "{ a " * 300 + "}" * 301
    result = await gql(http, document)
    assert result.status == 200 and "data" not in result.body, result.body
    assert result.codes == ["GRAPHQL_PARSE_FAILED"], result.body
