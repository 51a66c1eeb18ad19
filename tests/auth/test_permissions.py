"""Permission classes on a tiny schema: codes, success paths and the printed directives."""

from __future__ import annotations

import uuid

import pytest
import strawberry

from auth.identity import ANONYMOUS, Identity
from auth.permissions import HasRole, HasScope, IsAuthenticated, IsSelfOrHasRole, gated
from core.errors import Forbidden, Unauthenticated
from tests.helpers.tiny_schemas import Ctx, ErrorCodes
from tests.helpers.tiny_schemas import identity_of as identity

ALICE_ID = uuid.uuid4()
BOB_ID = uuid.uuid4()


@strawberry.type
class Person:
    id: strawberry.ID
    email: str = strawberry.field(extensions=gated(IsSelfOrHasRole("admin")))


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(IsAuthenticated()))
    def secret(self) -> str:
        return "s"

    @strawberry.field(extensions=gated(HasRole("admin")))
    def admin_only(self) -> str:
        return "a"

    @strawberry.field(extensions=gated(HasScope("x")))
    def scoped(self) -> str:
        return "x"

    @strawberry.field(extensions=gated(IsAuthenticated(), HasScope("users:read")))
    def both(self) -> str:
        return "b"

    @strawberry.field
    def person(self, id: strawberry.ID) -> Person:
        return Person(id=id, email="p@example.com")


SCHEMA = strawberry.Schema(query=Query, extensions=[ErrorCodes])
BARE_SCHEMA = strawberry.Schema(query=Query)  # no ErrorCodes: codes come from the exceptions


async def run(query: str, who: Identity, schema: strawberry.Schema = SCHEMA):
    return await schema.execute(query, context_value=Ctx(who))


def only_code(result) -> str:
    assert result.errors is not None and len(result.errors) == 1, result.errors
    return result.errors[0].extensions["code"]


@pytest.mark.parametrize("field", ["secret", "adminOnly", "scoped", "both"])
async def test_anonymous_is_unauthenticated_on_every_gated_field(field):
    result = await run(f"{{ {field} }}", ANONYMOUS)
    assert only_code(result) == "UNAUTHENTICATED"
    assert result.data is None


async def test_is_authenticated_lets_a_user_through():
    result = await run("{ secret }", identity(ALICE_ID))
    assert result.errors is None
    assert result.data == {"secret": "s"}


async def test_has_role_forbids_a_user_without_the_role():
    result = await run("{ adminOnly }", identity(ALICE_ID, roles=("editor",)))
    assert only_code(result) == "FORBIDDEN"
    assert "admin" in result.errors[0].message


async def test_has_role_lets_the_role_through():
    result = await run("{ adminOnly }", identity(ALICE_ID, roles=("admin",)))
    assert result.errors is None
    assert result.data == {"adminOnly": "a"}


async def test_has_scope_forbids_a_token_without_the_scope():
    result = await run("{ scoped }", identity(ALICE_ID, scopes=frozenset({"y"})))
    assert only_code(result) == "FORBIDDEN"


async def test_has_scope_lets_a_token_with_the_scope_through():
    result = await run("{ scoped }", identity(ALICE_ID, scopes=frozenset({"x"})))
    assert result.data == {"scoped": "x"}


async def test_full_rights_credentials_carry_every_scope():
    result = await run("{ scoped both }", identity(ALICE_ID, scopes=None))
    assert result.errors is None
    assert result.data == {"scoped": "x", "both": "b"}


async def test_token_with_no_scopes_is_forbidden_on_a_scoped_field():
    result = await run("{ both }", identity(ALICE_ID, scopes=frozenset()))
    assert only_code(result) == "FORBIDDEN"


async def test_is_self_lets_the_owner_see_the_field():
    result = await run(f'{{ person(id: "{ALICE_ID}") {{ email }} }}', identity(ALICE_ID))
    assert result.errors is None
    assert result.data == {"person": {"email": "p@example.com"}}


async def test_is_self_forbids_another_user():
    result = await run(f'{{ person(id: "{BOB_ID}") {{ email }} }}', identity(ALICE_ID))
    assert only_code(result) == "FORBIDDEN"


async def test_is_self_or_role_lets_the_role_see_another_user():
    result = await run(f'{{ person(id: "{BOB_ID}") {{ email }} }}', identity(ALICE_ID, roles=("admin",)))
    assert result.errors is None
    assert result.data == {"person": {"email": "p@example.com"}}


async def test_is_self_or_role_is_unauthenticated_for_anonymous():
    result = await run(f'{{ person(id: "{BOB_ID}") {{ email }} }}', ANONYMOUS)
    assert only_code(result) == "UNAUTHENTICATED"


async def test_a_refused_field_does_not_hide_its_siblings():
    result = await run(f'{{ secret person(id: "{BOB_ID}") {{ id }} }}', ANONYMOUS)
    assert only_code(result) == "UNAUTHENTICATED"
    assert result.errors[0].path == ["secret"]


@pytest.mark.parametrize(
    ("query", "who", "error_type", "code"),
    [
        ("{ secret }", ANONYMOUS, Unauthenticated, "UNAUTHENTICATED"),
        ("{ adminOnly }", identity(ALICE_ID), Forbidden, "FORBIDDEN"),
        ("{ scoped }", identity(ALICE_ID, scopes=frozenset()), Forbidden, "FORBIDDEN"),
    ],
)
async def test_permissions_raise_errors_carrying_their_code(query, who, error_type, code):
    """Without the ErrorCodes extension, the raised exception itself carries the code."""
    result = await run(query, who, schema=BARE_SCHEMA)
    assert result.errors is not None and len(result.errors) == 1
    original = result.errors[0].original_error
    assert type(original) is error_type
    assert original.extensions["code"] == code


def test_printed_sdl_shows_each_directive_with_its_arguments():
    sdl = SCHEMA.as_str()
    assert "directive @isAuthenticated on FIELD_DEFINITION" in sdl
    assert "directive @hasRole(role: String!) repeatable on FIELD_DEFINITION" in sdl
    assert "directive @hasScope(scope: String!) repeatable on FIELD_DEFINITION" in sdl
    assert "directive @isSelfOrHasRole(role: String!) repeatable on FIELD_DEFINITION" in sdl
    assert "secret: String! @isAuthenticated" in sdl
    assert 'adminOnly: String! @hasRole(role: "admin")' in sdl
    assert 'scoped: String! @hasScope(scope: "x")' in sdl
    assert 'both: String! @isAuthenticated @hasScope(scope: "users:read")' in sdl
    assert 'email: String! @isSelfOrHasRole(role: "admin")' in sdl
    # An ungated field prints bare.
    assert "person(id: ID!): Person!\n" in sdl


def test_two_roles_print_two_directive_uses_but_one_definition():
    @strawberry.type
    class Roles:
        @strawberry.field(extensions=gated(HasRole("admin")))
        def a(self) -> int:
            return 1

        @strawberry.field(extensions=gated(HasRole("auditor")))
        def b(self) -> int:
            return 2

    sdl = strawberry.Schema(query=Roles).as_str()
    assert sdl.count("directive @hasRole") == 1
    assert 'a: Int! @hasRole(role: "admin")' in sdl
    assert 'b: Int! @hasRole(role: "auditor")' in sdl


def test_a_field_gated_twice_by_one_directive_prints_sdl_that_builds_back() -> None:
    """Two scopes (or two roles) on one field: the directives are repeatable, so the SDL
    Gatehouse serves (schema.graphql, ?viewer=me) is valid for graphql-core and clients."""
    from graphql import build_schema as build_from_sdl

    @strawberry.type
    class TwiceQuery:
        both: str = strawberry.field(
            resolver=lambda: "x",
            extensions=gated(
                HasRole("admin"),
                HasRole("auditor"),
                HasScope("a:read"),
                HasScope("b:read"),
                IsSelfOrHasRole("admin"),
                IsSelfOrHasRole("auditor"),
            ),
        )

    sdl = strawberry.Schema(query=TwiceQuery).as_str()
    assert "directive @hasScope(scope: String!) repeatable on FIELD_DEFINITION" in sdl
    rebuilt = build_from_sdl(sdl)
    both = rebuilt.query_type.fields["both"]  # type: ignore[union-attr]
    assert [d.name.value for d in both.ast_node.directives].count("hasScope") == 2  # type: ignore[union-attr]
