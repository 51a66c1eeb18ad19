"""Compiled execution answers exactly what graphql-core's `execute` answers.

A tiny schema covers the shapes of the specification's value completion: leaves,
enums, lists, non-null, nested objects, async resolvers and list items, permission
extensions, arguments and variables, aliases, fragments, and every kind of error with
its null propagation. Each case runs both ways on the same schema and context.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import execute, parse, validate
from graphql.execution.values import get_variable_values
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.types import Info

from auth.identity import ANONYMOUS, Identity
from auth.permissions import IsAuthenticated, gated
from schema.engine.plans import compile_operations


def _coerced(schema: Any, plan: Any, variables: dict[str, Any] | None) -> Any:
    """The variables as the engine hands them to a plan: coerced by graphql-core."""
    return get_variable_values(schema._schema, plan.operation.variable_definitions or (), variables or {})


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    tags: list[str]
    colour: Colour = Colour.RED
    secret: str = strawberry.field(default="hidden", extensions=gated(IsAuthenticated()))

    @strawberry.field
    def fails(self) -> str:
        raise ValueError(f"{self.name} fails")

    @strawberry.field
    def fails_softly(self) -> str | None:
        raise ValueError(f"{self.name} fails softly")

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return self.name + " later"

    @strawberry.field
    async def later_fails(self) -> str | None:
        await asyncio.sleep(0)
        raise RuntimeError("late failure")

    @strawberry.field
    def null_in_non_null(self) -> str:
        return None  # type: ignore[return-value]

    @strawberry.field
    def not_an_int(self) -> int:
        return "seven"  # type: ignore[return-value]

    @strawberry.field
    def echo(self, info: Info, text: str = "default", times: int = 1) -> str:
        return f"{info.path.key}:{text * times}"

    @strawberry.field
    def child(self) -> Item | None:
        return Item(name=self.name + ".child", tags=[]) if len(self.name) < 12 else None

    @strawberry.field
    def broken_children(self) -> list[Item]:
        return [Item(name="ok", tags=[]), None]  # type: ignore[list-item]

    @strawberry.field
    def soft_children(self) -> list[Item | None]:
        return [Item(name="ok", tags=[]), None]


@strawberry.interface
class Named:
    label: str


@strawberry.type
class Tag(Named):
    """Implements an interface, so Strawberry gives it an `is_type_of` check."""


def _items() -> list[Item]:
    return [Item(name="one", tags=["a", "b"]), Item(name="two", tags=[], colour=Colour.BLUE)]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return _items()

    @strawberry.field
    async def async_items(self) -> list[Item]:
        await asyncio.sleep(0)
        return _items()

    @strawberry.field
    def awaitable_items(self) -> list[str]:
        async def value(text: str) -> str:
            await asyncio.sleep(0)
            return text

        return [value("x"), value("y")]  # type: ignore[list-item]

    @strawberry.field
    def first(self) -> Item:
        return _items()[0]

    @strawberry.field
    def nothing(self) -> Item | None:
        return None

    @strawberry.field
    def required_nothing(self) -> Item:
        return None  # type: ignore[return-value]

    @strawberry.field
    def not_a_list(self) -> list[str]:
        return 5  # type: ignore[return-value]

    @strawberry.field
    def add(self, a: int, b: int = 2) -> int:
        return a + b

    @strawberry.field
    def whoami(self, info: Info) -> str:
        return "someone" if info.context.identity.is_authenticated else "nobody"

    @strawberry.field
    def tag(self) -> Tag:
        return Tag(label="t")

    @strawberry.field
    def wrong_tag(self) -> Tag | None:
        return _items()[0]  # type: ignore[return-value]

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def guarded(self) -> Item:
        return _items()[0]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> bool:
        return True


class _Context:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity


SIGNED_IN = Identity(user=object(), roles=frozenset())  # type: ignore[arg-type]

# (name, query, variables); every one of them must compile.
CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("leaves and enums", "{ items { name tags colour } }", None),
    ("typename everywhere", "{ __typename items { __typename name } first { __typename } }", None),
    ("aliases", "{ a: first { n: name } b: first { name } }", None),
    ("one field asked twice merges", "{ first { name } first { tags child { name } } }", None),
    (
        "named and inline fragments",
        "{ first { ...F ... on Item { tags } ... { colour } } } fragment F on Item { name }",
        None,
    ),
    ("a fragment spread twice", "{ first { ...F ...F } } fragment F on Item { name }", None),
    ("nested objects and nulls", "{ first { child { child { child { name } } } } nothing { name } }", None),
    ("async resolvers", "{ asyncItems { name later } first { later } }", None),
    ("awaitable list items", "{ awaitableItems }", None),
    ("error in a nullable field", "{ items { name failsSoftly } }", None),
    ("async error in a nullable field", "{ first { name laterFails } }", None),
    ("error in a non-null field nulls the item and the list", "{ items { name fails } }", None),
    ("null in a non-null field", "{ first { name nullInNonNull } }", None),
    ("a leaf that cannot be serialised", "{ first { notAnInt } }", None),
    ("null item in a non-null list", "{ first { brokenChildren { name } } }", None),
    ("null item in a nullable list", "{ first { softChildren { name } } }", None),
    ("not a list", "{ notAList }", None),
    ("required root field is null", "{ requiredNothing { name } items { name } }", None),
    ("errors up to the root", "{ first { name } guarded { name } }", None),
    ("arguments and defaults", '{ first { echo echo2: echo(text: "hi", times: 3) } add(a: 1) }', None),
    (
        "variables",
        'query Q($a: Int!, $t: String = "dflt") { add(a: $a, b: $a) first { echo(text: $t) } }',
        {"a": 4},
    ),
    ("bad variable", "query Q($a: Int!) { add(a: $a) }", {"a": "four"}),
    ("missing variable", "query Q($a: Int!) { add(a: $a) }", {}),
    ("an object type with is_type_of", "{ tag { label __typename } wrongTag { label } }", None),
    ("context and permissions", "{ whoami first { name secret } }", None),
    ("a permission inside a list", "{ items { name secret } }", None),
    ("several errors", "{ items { failsSoftly laterFails } first { failsSoftly } }", None),
]


def _schema() -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, types=[Tag])
    assert schema._schema.type_map["Tag"].is_type_of is not None
    return schema


def _shape(data: Any, errors: Any) -> dict[str, Any]:
    # Sorted: graphql-core settles async siblings concurrently, the plan one by one, and
    # the specification leaves the order of errors open.
    return {
        "data": data,
        "errors": sorted(
            (
                str(e.path),
                e.message,
                [tuple(loc) for loc in e.locations or []],
                type(e.original_error).__name__,
            )
            for e in errors or []
        ),
    }


async def _reference(schema: strawberry.Schema, query: str, variables: Any, context: Any) -> dict[str, Any]:
    result: Any = execute(
        schema._schema,
        parse(query),
        context_value=context,
        variable_values=variables,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        **execution_context_class_kwargs(schema.execution_context_class),
    )
    if asyncio.iscoroutine(result):
        result = await result
    return _shape(result.data, result.errors)


@pytest.mark.parametrize("identity", [ANONYMOUS, SIGNED_IN], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize(("name", "query", "variables"), CASES, ids=[c[0] for c in CASES])
async def test_compiled_matches_graphql_core(identity, name, query, variables):
    schema = _schema()
    document = parse(query)
    assert validate(schema._schema, document) == []
    plans = compile_operations(schema._schema, document)
    assert None in plans, "the case must compile, or it tests nothing"
    context = _Context(identity)
    coerced = _coerced(schema, plans[None], variables)
    if isinstance(coerced, list):  # the engine stops here, before the plan runs
        data, errors = None, coerced
    else:
        data, errors = await plans[None].execute(context, coerced)
    assert _shape(data, errors) == await _reference(schema, query, variables, context)


@pytest.mark.parametrize(
    "query",
    [
        "mutation { __typename }",
        "{ first { name @include(if: true) } }",
        "query @deprecated { first { name } }",
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Item") { name } }',
    ],
    ids=["mutation", "field directive", "operation directive", "__schema", "__type"],
)
def test_what_is_not_compiled_is_left_to_graphql_core(query):
    schema = strawberry.Schema(query=Query, mutation=Mutation)
    assert compile_operations(schema._schema, parse(query)) == {}


def test_a_compiler_failure_falls_back_to_graphql_core(monkeypatch, caplog):
    import schema.engine.plans as compiled

    def broken(*args: Any) -> None:
        raise KeyError("unforeseen")

    monkeypatch.setattr(compiled, "compile_selection", broken)
    assert compile_operations(_schema()._schema, parse("{ first { name } }")) == {}
    assert "could not compile" in caplog.text


def test_operations_are_found_by_name_and_alone_without_one():
    schema = _schema()
    single = compile_operations(schema._schema, parse("query Only { first { name } }"))
    assert set(single) == {"Only", None}
    several = compile_operations(
        schema._schema, parse("query A { first { name } } query B { items { name } }")
    )
    assert set(several) == {"A", "B"}


async def test_sub_selections_left_behind_by_an_error_are_closed():
    """A non-null error in a list stops the rest; their coroutines are closed, not leaked
    (pytest turns 'never awaited' warnings into errors)."""
    schema = _schema()
    plans = compile_operations(
        schema._schema, parse("{ first { brokenChildren { later } } items { fails later } }")
    )
    data, errors = await plans[None].execute(_Context(ANONYMOUS), {})
    assert data is None or data["items"] is None
    assert errors


# -- the real schema, on the real database ---------------------------------------------

REAL_CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("me", "{ me { id username email roles createdAt } }", None),
    ("me through a fragment", "query Me { me { __typename ...U } } fragment U on User { id username }", None),
    ("another user's email", "query U($id: ID!) { user(id: $id) { id username email } }", {"id": "BOB"}),
    ("an unknown user", 'query { user(id: "nope") { id } }', None),
    (
        "a page of users",
        "{ users(first: 2) { totalCount pageInfo { hasNextPage endCursor } "
        "edges { cursor node { id username email roles } } nodes { username } } }",
        None,
    ),
    ("a page that is too big", "{ users(first: 500) { totalCount } }", None),
    ("a bad cursor", '{ users(after: "garbage") { totalCount } }', None),
    ("credentials", "{ myCredentials { id kind name scopes current createdAt expiresAt userAgent } }", None),
    ("two root fields", "{ me { username } myCredentials { kind current } }", None),
]


async def _identities(alice_id: str, admin_id: str) -> dict[str, Identity]:
    from auth.identity import Scheme
    from models import Credential, User

    alice_row = await User.get(id=alice_id)
    admin_row = await User.get(id=admin_id)
    family = await Credential.filter(user_id=alice_id).first()
    assert family is not None
    return {
        "anonymous": ANONYMOUS,
        "alice": Identity(
            user=alice_row, roles=frozenset(alice_row.roles), scheme=Scheme.JWT, credential_id=str(family.id)
        ),
        "admin": Identity(user=admin_row, roles=frozenset(admin_row.roles), scheme=Scheme.JWT),
        "alice's token without scopes": Identity(
            user=alice_row, roles=frozenset(), scopes=frozenset(), scheme=Scheme.TOKEN
        ),
    }


async def test_compiled_matches_graphql_core_on_the_real_schema(app, alice, bob, admin):
    from schema.build import build_schema
    from schema.engine import Phase
    from web.errors import code_error

    def classify(error: Any) -> Any:
        return code_error(error, Phase.EXECUTION)
    from tests.helpers import make_settings

    schema = build_schema(make_settings())
    identities = await _identities(alice.id, admin.id)
    compared = 0
    for name, query, variables in REAL_CASES:
        if variables and variables.get("id") == "BOB":
            variables = {"id": bob.id}
        document = parse(query)
        assert validate(schema._schema, document) == [], name
        plans = compile_operations(schema._schema, document)
        assert None in plans, name
        for who, identity in identities.items():
            context = _Context(identity)
            data, errors = await plans[None].execute(context, _coerced(schema, plans[None], variables))
            mine = _shape(data, errors)
            mine["codes"] = sorted(classify(e).extensions["code"] for e in errors)
            reference: Any = execute(
                schema._schema,
                document,
                context_value=context,
                variable_values=variables,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                **execution_context_class_kwargs(schema.execution_context_class),
            )
            if asyncio.iscoroutine(reference):
                reference = await reference
            theirs = _shape(reference.data, reference.errors)
            theirs["codes"] = sorted(classify(e).extensions["code"] for e in reference.errors or [])
            assert mine == theirs, (name, who)
            compared += 1
    assert compared == len(REAL_CASES) * len(identities)
