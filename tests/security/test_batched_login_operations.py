"""Many password guesses in one request: aliases, fragments, several credential mutations
in one operation, or a JSON array of operations (batching).

An operation may hold at most one of `login`, `register`, `changePassword`,
`refreshToken` and `reauthenticate`; more are refused during validation (`GRAPHQL_VALIDATION_FAILED`), before
any resolver or hasher runs. Batching is off: an array body is a `BAD_REQUEST` (400), never a 500.
"""

from __future__ import annotations

import json

import pytest
import strawberry
from graphql import GraphQLError, parse, specified_rules, validate

from schema.build import build_schema
from schema.limits import OneCredentialFieldPerOperation
from tests.helpers import (
    GRAPHQL,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    CountingHasher,
    OpenApp,
    gql,
    make_persona,
    make_settings,
)


def guess(password: str) -> str:
    """A `login` root field trying `password` for alice."""
    return 'login(input: {login: "alice", password: "' + password + '", transport: BEARER}) { accessToken }'


REFRESH = 'refreshToken(refreshToken: "gtr_xxx") { accessToken }'
REGISTER = (
    'register(input: {username: "mallory", email: "m@example.com", password: "'
    + STRONG_PASSWORD
    + '"}) { user { id } }'
)

ALIASES = f"mutation {{ a: {guess(OTHER_PASSWORD)} b: {guess(STRONG_PASSWORD)} }}"
MIXED = f"mutation {{ {guess(OTHER_PASSWORD)} {REGISTER} }}"
VIA_FRAGMENTS = f"""
mutation {{ ...One ...Two }}
fragment One on Mutation {{ a: {guess(OTHER_PASSWORD)} }}
fragment Two on Mutation {{ ...Three }}
fragment Three on Mutation {{ b: {guess(STRONG_PASSWORD)} }}
"""
VIA_INLINE_FRAGMENTS = f"mutation {{ ... on Mutation {{ a: {guess(OTHER_PASSWORD)} }} ... {{ {REFRESH} }} }}"
REPEATED_SPREAD = f"""
mutation {{ ...One ...One }}
fragment One on Mutation {{ {guess(OTHER_PASSWORD)} }}
"""


@pytest.mark.parametrize(
    "document",
    [ALIASES, MIXED, VIA_FRAGMENTS, VIA_INLINE_FRAGMENTS],
    ids=["aliases", "login-and-register", "fragments", "inline-fragments"],
)
async def test_two_credential_fields_in_one_operation_are_refused_before_execution(
    open_app: OpenApp, document
):
    hasher = CountingHasher()
    client = await open_app(make_settings(), hasher=hasher)
    await make_persona(client, "alice")
    calls = dict(hasher.calls)

    result = await gql(client, document, cookies=False)

    assert result.status == 200 and "data" not in result.body, result.body
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "at most one of login, register, changePassword and refreshToken" in result.errors[0]["message"]
    assert hasher.calls == calls  # no password was checked, no account was created
    assert result.status != 500


async def test_one_credential_field_beside_ordinary_fields_is_allowed(http, alice):
    document = f"mutation {{ {guess(STRONG_PASSWORD)} }}"
    result = await gql(http, document, cookies=False)
    assert result.status == 200 and result.data["login"]["accessToken"], result.body


async def test_a_fragment_spread_twice_is_counted_twice(http, alice):
    # GraphQL merges identical fields, so this executes one login; the count is an
    # upper bound and still refuses it (fields are counted, not merged).
    result = await gql(http, REPEATED_SPREAD, cookies=False)
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"], result.body


async def test_only_the_executed_operation_is_counted(http, alice):
    document = f"mutation A {{ {guess(STRONG_PASSWORD)} }} mutation B {{ {guess(OTHER_PASSWORD)} }}"
    response = await http.post(GRAPHQL, json={"query": document, "operationName": "A"})
    body = response.json()
    assert response.status_code == 200 and body["data"]["login"]["accessToken"], body


@pytest.mark.parametrize(
    "body",
    [
        [{"query": "{ me { id } }"}, {"query": "{ me { id } }"}],
        [{"query": f"mutation {{ {guess(OTHER_PASSWORD)} }}"}] * 50,
        [],
    ],
    ids=["two-queries", "fifty-logins", "empty-array"],
)
async def test_batched_array_bodies_get_a_json_error(http, body):
    response = await http.post(
        GRAPHQL, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400, response.text
    payload = response.json()
    assert "data" not in payload, payload
    assert [e["extensions"]["code"] for e in payload["errors"]] == ["BAD_REQUEST"], payload


async def test_batched_logins_check_no_password(open_app: OpenApp):
    hasher = CountingHasher()
    client = await open_app(make_settings(), hasher=hasher)
    await make_persona(client, "alice")
    checks = hasher.checks
    body = [{"query": f"mutation {{ {guess(OTHER_PASSWORD)} }}"}] * 10
    await client.post(GRAPHQL, json=body)
    assert hasher.checks == checks


# -- the rule on a tiny schema -----------------------------------------------------------


@strawberry.type
class TinyQuery:
    ping: str = "pong"


@strawberry.type
class TinyMutation:
    @strawberry.mutation
    def login(self) -> str:
        return "ok"

    @strawberry.mutation
    def register(self) -> str:
        return "ok"

    @strawberry.mutation
    def change_password(self) -> str:
        return "ok"

    @strawberry.mutation
    def refresh_token(self) -> str:
        return "ok"

    @strawberry.mutation
    def logout(self) -> str:
        return "ok"


TINY = strawberry.Schema(query=TinyQuery, mutation=TinyMutation)
# graphql-core's own rules and the credential rule, as the server validates (schema/build.py).
TINY_RULES = (*specified_rules, OneCredentialFieldPerOperation)


# The two refusals of the rule (its errors carry no code: the pipeline codes them by phase).
RULE_MESSAGES = ("An operation may hold at most one of", "hands out a credential and must be the only field")


def validate_tiny(document: str) -> list[GraphQLError]:
    """The errors validating `document` against the tiny schema reports (empty: accepted)."""
    return validate(TINY._schema, parse(document), TINY_RULES)


def test_the_rule_counts_exactly_the_credential_fields_of_the_real_schema():
    schema = build_schema(make_settings())._schema
    assert schema.mutation_type is not None
    counted = set()
    for name in schema.mutation_type.fields:
        # Only the rule runs: the fields' arguments and selections do not matter here.
        document = parse(f"mutation {{ a: {name} b: {name} }}")
        errors = validate(schema, document, [OneCredentialFieldPerOperation])
        if any("at most one of login, register, changePassword" in e.message for e in errors):
            counted.add(name)
    # `reauthenticate` checks a password like `login` (step-up, contract section 12), and so
    # do `requestEmailChange` and `deleteAccount` (section 11).
    assert counted == {
        "login",
        "register",
        "changePassword",
        "refreshToken",
        "reauthenticate",
        "requestEmailChange",
        "deleteAccount",
        # Section 10: an ID token tried is a sign-in attempt too.
        "loginWithIdToken",
    }


@pytest.mark.parametrize(
    ("document", "allowed"),
    [
        ("mutation { login }", True),
        # A field that hands out a credential stands alone (issue 10): another field's
        # error would null `data` after the credential was committed.
        ("mutation { login logout }", False),
        ("mutation { __typename login }", True),
        ("mutation { changePassword logout }", True),
        ("mutation { a: logout b: logout }", True),
        ("mutation { login register }", False),
        ("mutation { changePassword refreshToken }", False),
        ("mutation { a: logout b: logout c: login }", False),
        (
            "mutation { ...F ...G } "
            "fragment F on TinyMutation { login } fragment G on TinyMutation { logout }",
            False,
        ),
        ("mutation { ...F } fragment F on TinyMutation { login ... on TinyMutation { x: login } }", False),
    ],
)
def test_the_rule_on_a_tiny_schema(document, allowed):
    errors = validate_tiny(document)
    if allowed:
        assert errors == [], errors
    else:
        assert len(errors) == 1 and any(m in errors[0].message for m in RULE_MESSAGES), errors


def test_the_rule_survives_circular_fragments():
    document = (
        "mutation { ...F } fragment F on TinyMutation { login ...G } fragment G on TinyMutation { ...F }"
    )
    errors = validate_tiny(document)
    assert any("Cannot spread fragment" in e.message for e in errors), errors
