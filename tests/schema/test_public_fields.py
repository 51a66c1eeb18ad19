"""Every root field carries a permission directive or is deliberately public."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from auth.permissions import HasRole, IsAuthenticated, IsAuthenticatedDirective, gated
from schema.build import build_schema
from schema.public import PUBLIC_FIELDS, ungated_root_fields
from tests.helpers import make_settings

CONTRACT_PUBLIC = {"Query.me", "Mutation.register", "Mutation.login", "Mutation.refreshToken"}


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
        "`extensions=gated(...)` (auth/permissions.py) or, if public on purpose, add them to "
        "PUBLIC_FIELDS in schema/public.py."
    )


def test_public_fields_are_exactly_the_contracts():
    assert set(PUBLIC_FIELDS) == CONTRACT_PUBLIC


def test_every_public_field_exists():
    """A stale entry would silently exempt a future field of the same name."""
    assert set(PUBLIC_FIELDS) <= root_field_names(build_schema(make_settings()))


def test_public_fields_really_carry_no_permission():
    schema = build_schema(make_settings())
    assert set(ungated_root_fields(schema, public=frozenset())) == CONTRACT_PUBLIC


def test_production_schema_is_gated_the_same_way():
    schema = build_schema(make_settings(app_env="production"))
    assert ungated_root_fields(schema) == []


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
    assert ungated_root_fields(schema, public=frozenset({"Query.leak"})) == ["Mutation.dropAllUsers"]


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
