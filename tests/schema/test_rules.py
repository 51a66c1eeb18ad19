"""Every gated field's description ends with its rule in words (contract section 7)."""

from __future__ import annotations

import httpx
from strawberry.permission import PermissionExtension

from schema.build import build_schema
from schema.rules import RULE_PREFIX, describe_rules
from tests.helpers import GRAPHQL, make_settings


def _fields(schema):
    for type_name, named_type in schema._schema.type_map.items():
        if type_name.startswith("__") or not hasattr(named_type, "fields"):
            continue
        for name, field in named_type.fields.items():
            yield f"{type_name}.{name}", field


def test_the_contracts_example_reads_as_written():
    schema = build_schema(make_settings())
    fields = dict(_fields(schema))
    assert (
        fields["Query.users"].description
        == 'Requires: @hasRole(role: "admin"), @hasScope(scope: "users:read")'
    )
    assert fields["Mutation.logout"].description == "Requires: @isAuthenticated"
    assert fields["User.email"].description == 'Requires: @isSelfOrHasRole(role: "admin")'
    # A field's own description comes first, the rule after it.
    assert fields["Mutation.setUserActive"].description == (
        "Deactivation ends every credential.\n\n"
        'Requires: @hasRole(role: "admin"), @hasScope(scope: "users:write")'
    )


def test_every_gated_field_and_only_those_end_with_a_rule():
    schema = build_schema(make_settings())
    for name, field in _fields(schema):
        definition = (field.extensions or {}).get("strawberry-definition")
        gated = any(
            isinstance(e, PermissionExtension) and e.permissions
            for e in getattr(definition, "extensions", ())
        )
        described = RULE_PREFIX in (field.description or "")
        assert gated == described, name


def test_describing_twice_changes_nothing():
    schema = build_schema(make_settings())
    before = {name: field.description for name, field in _fields(schema)}
    describe_rules(schema._schema)
    assert {name: field.description for name, field in _fields(schema)} == before


async def test_introspection_shows_the_rules(http: httpx.AsyncClient):
    response = await http.post(
        GRAPHQL, json={"query": '{ __type(name: "Query") { fields { name description } } }'}
    )
    fields = {f["name"]: f["description"] for f in response.json()["data"]["__type"]["fields"]}
    assert fields["myCredentials"] == 'Requires: @isAuthenticated, @hasScope(scope: "credentials:read")'
    assert fields["me"] == "The caller; null when anonymous."
