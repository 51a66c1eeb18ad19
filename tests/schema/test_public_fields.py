"""Every root field carries a permission directive or is deliberately public.

Since issue 12 this is the server's own start-up rule (`build_schema` refuses the schema,
tests/schema/test_modules.py): here the rule itself, `schema/public.py`, is held to it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
import strawberry
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from auth.permissions import HasRole, IsAuthenticated, IsAuthenticatedDirective, gated
from schema.build import Mutation, Query, build_schema
from schema.public import public, public_root_fields, ungated_root_fields
from tests.helpers import make_settings
from tests.helpers.contract import CONTRACT_PUBLIC


def root_field_names(schema: strawberry.Schema) -> set[str]:
    names = set()
    for type_name in ("Query", "Mutation", "Subscription"):
        definition = schema.get_type_by_name(type_name)
        for field in getattr(definition, "fields", None) or []:
            names.add(f"{type_name}.{schema.config.name_converter.get_graphql_name(field)}")
    return names


def test_every_root_field_is_gated_or_deliberately_public():
    schema = build_schema(make_settings())
    ungated = ungated_root_fields(schema)
    assert ungated == [], (
        f"Root fields without a permission directive: {ungated}. Gate them with "
        "`extensions=gated(...)` (auth/permissions.py) or, if public on purpose, declare "
        'them with metadata={"public": True}.'
    )


def test_public_fields_are_exactly_the_contracts():
    assert set(public_root_fields(build_schema(make_settings()))) == CONTRACT_PUBLIC


def test_public_fields_really_carry_no_permission():
    """Public means no permission at all, not a permission and a waiver."""
    schema = build_schema(make_settings())
    public_fields = [field for name, field in _root_fields(schema) if name in CONTRACT_PUBLIC]
    assert len(public_fields) == len(CONTRACT_PUBLIC)
    assert all(not field.extensions and not field.directives for field in public_fields)


def test_without_their_declaration_the_public_fields_are_exactly_the_ungated_ones():
    """Dropping the metadata is what the rule would then report: the declaration is the only
    thing exempting them."""
    undeclared = {
        type_name: _without_public_metadata(root)
        for type_name, root in (("Query", Query), ("Mutation", Mutation))
    }
    schema = strawberry.Schema(query=undeclared["Query"], mutation=undeclared["Mutation"])
    assert set(ungated_root_fields(schema)) == CONTRACT_PUBLIC
    assert public_root_fields(schema) == []


def test_production_schema_is_gated_the_same_way():
    schema = build_schema(make_settings(app_env="production"))
    assert ungated_root_fields(schema) == []
    assert set(public_root_fields(schema)) == CONTRACT_PUBLIC


def _root_fields(schema: strawberry.Schema):
    for type_name in ("Query", "Mutation"):
        for field in schema.get_type_by_name(type_name).fields:
            yield f"{type_name}.{schema.config.name_converter.get_graphql_name(field)}", field


def _without_public_metadata(root: type) -> type:
    """A copy of a root type whose fields keep everything but `metadata`."""
    namespace = {}
    for field in root.__strawberry_definition__.fields:
        namespace[field.python_name] = strawberry.field(
            resolver=field.base_resolver.wrapped_func,
            extensions=[type(e)(permissions=list(e.permissions)) for e in field.extensions],
        )
    return strawberry.type(type(root.__name__, (), namespace))


# -- the check itself can fail -------------------------------------------------------


def test_check_reports_an_ungated_query_and_mutation_field():
    @strawberry.type
    class Query:
        @strawberry.field
        def leak(self) -> str:
            return "everything"

        @strawberry.field(extensions=gated(IsAuthenticated()))
        def guarded(self) -> str:
            return "ok"

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def drop_all_users(self) -> bool:
            return True

        @strawberry.mutation(extensions=gated(HasRole("admin")))
        def admin_thing(self) -> bool:
            return True

    schema = strawberry.Schema(query=Query, mutation=Mutation)
    assert ungated_root_fields(schema) == ["Query.leak", "Mutation.dropAllUsers"]


def test_only_the_public_declaration_exempts_a_field():
    @strawberry.type
    class Query:
        @strawberry.field(metadata=public())
        def open_door(self) -> str:
            return "welcome"

        @strawberry.field(metadata={"public": "yes"})  # truthy is not a declaration
        def sloppy(self) -> str:
            return "x"

        @strawberry.field(metadata={"owner": "team-a"})
        def other_metadata(self) -> str:
            return "x"

    schema = strawberry.Schema(query=Query)
    assert ungated_root_fields(schema) == ["Query.sloppy", "Query.otherMetadata"]
    assert public_root_fields(schema) == ["Query.openDoor"]


def test_any_permission_that_prints_its_directive_gates_a_field():
    """Directives are recognised generically: a permission class written after this rule
    (helper modules, auth/permissions.py's newer classes) gates as soon as it prints one."""

    @strawberry.schema_directive(locations=[Location.FIELD_DEFINITION])
    class OnlyOnTuesdays:
        reason: str

    class IsTuesday(BasePermission):
        @property
        def schema_directive(self) -> object:
            return OnlyOnTuesdays(reason="calendar")

        def has_permission(self, source, info, **kwargs) -> bool:
            return False

    class Silent(BasePermission):
        """Prints nothing: its directive is switched off below."""

        def has_permission(self, source, info, **kwargs) -> bool:
            return False

    @strawberry.type
    class Query:
        @strawberry.field(extensions=gated(IsTuesday()))
        def tuesday(self) -> str:
            return "x"

        @strawberry.field(extensions=gated(IsTuesday(), IsAuthenticated()))
        def both(self) -> str:
            return "x"

        @strawberry.field(
            extensions=[
                *gated(IsAuthenticated()),
                PermissionExtension([Silent()], use_directives=False),
            ]
        )
        def half_shown(self) -> str:
            return "x"

    schema = strawberry.Schema(query=Query)
    assert '@onlyOnTuesdays(reason: "calendar")' in schema.as_str()
    assert ungated_root_fields(schema) == ["Query.halfShown"]


@pytest.mark.parametrize("kind", ["query", "mutation"])
def test_the_rule_names_every_ungated_field_not_only_the_first(kind: str):
    @strawberry.type
    class Query:
        @strawberry.field
        def a(self) -> str:
            return "x"

        @strawberry.field
        def b(self) -> str:
            return "x"

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def c(self) -> bool:
            return True

    schema = strawberry.Schema(query=Query, mutation=Mutation if kind == "mutation" else None)
    expected = ["Query.a", "Query.b"] + (["Mutation.c"] if kind == "mutation" else [])
    assert ungated_root_fields(schema) == expected


def test_check_reports_legacy_permission_classes_that_print_no_directive():
    @strawberry.type
    class Query:
        @strawberry.field(permission_classes=[IsAuthenticated])
        def hidden_rule(self) -> str:
            return "x"

    schema = strawberry.Schema(query=Query)
    assert "@isAuthenticated" not in schema.as_str()
    assert ungated_root_fields(schema) == ["Query.hiddenRule"]


def test_check_reports_a_directive_that_enforces_nothing():
    @strawberry.type
    class Query:
        @strawberry.field(directives=[IsAuthenticatedDirective()])
        def looks_gated(self) -> str:
            return "x"

    schema = strawberry.Schema(query=Query)
    assert "looksGated: String! @isAuthenticated" in schema.as_str()
    assert ungated_root_fields(schema) == ["Query.looksGated"]


def test_check_reports_an_empty_permission_list():
    @strawberry.type
    class Query:
        @strawberry.field(extensions=gated())
        def nothing_checked(self) -> str:
            return "x"

    assert ungated_root_fields(strawberry.Schema(query=Query)) == ["Query.nothingChecked"]


def test_check_covers_subscriptions():
    @strawberry.type
    class Query:
        @strawberry.field(extensions=gated(IsAuthenticated()))
        def ok(self) -> str:
            return "ok"

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def events(self) -> AsyncGenerator[int, None]:
            yield 1

    schema = strawberry.Schema(query=Query, subscription=Subscription)
    assert ungated_root_fields(schema) == ["Subscription.events"]
