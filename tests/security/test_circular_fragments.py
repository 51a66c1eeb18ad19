"""Fragments that spread each other forever: refused during validation (graphql-core's
`NoFragmentCycles`), before execution; no resolver and no hasher runs."""

from __future__ import annotations

from tests.helpers import OTHER_PASSWORD, CountingHasher, OpenApp, gql, make_persona, make_settings

QUERY_CYCLE = "{ me { ...A } } fragment A on User { id ...B } fragment B on User { ...A }"
SELF_CYCLE = "{ me { ...A } } fragment A on User { id ...A }"
MUTATION_CYCLE = (
    "mutation { ...A } "
    'fragment A on Mutation { login(input: {login: "alice", password: "'
    + OTHER_PASSWORD
    + '", transport: BEARER}) { accessToken } ...B } '
    "fragment B on Mutation { ...C } "
    "fragment C on Mutation { ...A }"
)


async def test_a_two_fragment_cycle_is_refused(http):
    result = await gql(http, QUERY_CYCLE)

    assert result.status == 200 and "data" not in result.body, result.body
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert result.errors[0]["message"] == "Cannot spread fragment 'A' within itself via 'B'."


async def test_a_self_spreading_fragment_is_refused(http):
    result = await gql(http, SELF_CYCLE)
    assert result.data is None
    assert "Cannot spread fragment 'A' within itself." in [e["message"] for e in result.errors]


async def test_a_cycle_around_a_login_never_executes(open_app: OpenApp):
    hasher = CountingHasher()
    client = await open_app(make_settings(), hasher=hasher)
    await make_persona(client, "alice")
    checks = hasher.checks

    result = await gql(client, MUTATION_CYCLE, cookies=False)

    assert "data" not in result.body, result.body
    assert "GRAPHQL_VALIDATION_FAILED" in result.codes
    assert any("within itself" in e["message"] for e in result.errors)
    assert hasher.checks == checks
