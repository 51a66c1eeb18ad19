"""A module's types get the same answers on both engines (issue 12, item 6).

A tiny module-shaped schema (a library: books and films behind an interface, a union
for search, authors nested in books, async resolvers, optional objects, lists of lists)
is gated the way a module gates its fields, with `gated(...)` and Gatehouse's permission
classes, `IsOwnerOrHasRole` included on root fields and on object fields. Each query runs
through both engines (`CompiledEngine`, `GraphQLCoreEngine`) as each caller, and data,
errors, paths, locations and error types must be equal. Every case also says whether
the compiled engine plans it, and `prepared.plans` must agree: what it cannot plan is
really run by graphql-core.

Plain attributes gated by a permission extension take the plan's direct check
(`plans.Guard`); the cases cover its failures too: a permission refusing, failing
silently, returning an awaitable or a non-boolean, and async permissions (which keep
Strawberry's own chain).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from auth.identity import ANONYMOUS, Identity, Scheme
from auth.permissions import HasRole, HasScope, IsAuthenticated, IsOwnerOrHasRole, gated
from schema.engine import Prepared
from schema.engine.compiled import CompiledEngine
from schema.engine.graphql_core import GraphQLCoreEngine
from schema.engine.plans import FieldPlan, Guard, SelectionPlan

ALICE_ID = "1"
BOB_ID = "2"
LIBRARIAN = "librarian"


class Person:
    def __init__(self, user_id: str) -> None:
        self.id = user_id


@strawberry.type
class Author:
    name: str

    @strawberry.field
    async def born(self) -> int:
        await asyncio.sleep(0)
        return 1900 + len(self.name)


@strawberry.interface
class Item:
    id: strawberry.ID
    title: str
    owner_id: strawberry.Private[str]
    # The parent object is checked: only its owner or a librarian reads it.
    note: str = strawberry.field(default="private note", extensions=gated(IsOwnerOrHasRole(LIBRARIAN)))


class Refuses(BasePermission):
    message = "Refused by a plain BasePermission."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


class Silently(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


class ReturnsAwaitable(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        async def later() -> bool:
            return True

        return later()  # type: ignore[return-value]


class ReturnsNonBoolean(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return 1  # type: ignore[return-value]


class AsyncOwner(BasePermission):
    message = "Not yours (async check)."

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        await asyncio.sleep(0)
        return bool(info.context.identity.user_id == source.owner_id)


class ReadsInfo(BasePermission):
    """Uses what only a real `info` carries: the path and the field name."""

    message = "Only the first item."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.field_name == "isbn" and info.path.prev.key in (0, "first")  # type: ignore[union-attr]


@strawberry.type
class Book(Item):
    pages: int
    author: Author | None = None
    # Object-level, role, scope and plain permissions on plain attributes (the Guard).
    isbn: str | None = strawberry.field(default="978-0", extensions=gated(HasRole(LIBRARIAN)))
    shelf_code: str = strawberry.field(
        default="A1", extensions=gated(IsAuthenticated(), HasScope("library:read"))
    )
    refused: str | None = strawberry.field(default="never", extensions=gated(Refuses()))
    refused_hard: str = strawberry.field(default="never", extensions=gated(Refuses()))
    silent: str | None = strawberry.field(
        default="hidden", extensions=[PermissionExtension([Silently()], fail_silently=True)]
    )
    silent_list: list[str] | None = strawberry.field(
        default_factory=lambda: ["a"], extensions=[PermissionExtension([Silently()], fail_silently=True)]
    )
    awaitable_check: str | None = strawberry.field(default="x", extensions=gated(ReturnsAwaitable()))
    non_boolean_check: str | None = strawberry.field(default="x", extensions=gated(ReturnsNonBoolean()))
    async_owner: str | None = strawberry.field(default="mine", extensions=gated(AsyncOwner()))
    info_check: str | None = strawberry.field(default="info", extensions=[PermissionExtension([ReadsInfo()])])

    @strawberry.field(extensions=gated(IsOwnerOrHasRole(LIBRARIAN)))
    async def summary(self) -> str:
        await asyncio.sleep(0)
        return f"{self.title}, {self.pages} pages"

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def excerpt(self, length: int = 3) -> str:
        return self.title[:length]

    @strawberry.field
    def failing(self) -> str | None:
        raise ValueError(f"{self.title} fails")


@strawberry.type
class Film(Item):
    minutes: int

    @strawberry.field
    async def director(self) -> Author | None:
        await asyncio.sleep(0)
        return Author(name="Varda") if self.minutes > 90 else None


@strawberry.type
class Shelf:
    label: str
    rows: list[list[Book]]
    sparse_rows: list[list[Book | None] | None]


SearchResult = Annotated[Book | Film | Author, strawberry.union("SearchResult")]


@strawberry.type
class Odd:
    """Reached only through `Strange`, whose type resolver the tests replace."""

    value: str


@strawberry.type
class Other:
    value: str


Strange = Annotated[Odd | Other, strawberry.union("Strange")]


def _books() -> list[Book]:
    return [
        Book(
            id=strawberry.ID("b1"), title="Dune", owner_id=ALICE_ID, pages=412, author=Author(name="Herbert")
        ),
        Book(id=strawberry.ID("b2"), title="Emma", owner_id=BOB_ID, pages=474),
        Book(
            id=strawberry.ID("b3"), title="Ulysses", owner_id=ALICE_ID, pages=730, author=Author(name="Joyce")
        ),
    ]


def _films() -> list[Film]:
    return [
        Film(id=strawberry.ID("f1"), title="Cleo", owner_id=BOB_ID, minutes=90),
        Film(id=strawberry.ID("f2"), title="Vagabond", owner_id=ALICE_ID, minutes=105),
    ]


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(IsAuthenticated()))
    def items(self) -> list[Item]:
        return [*_books(), *_films()]

    @strawberry.field(extensions=gated(IsAuthenticated()))
    async def async_items(self) -> list[Item | None]:
        await asyncio.sleep(0)
        return [_books()[0], None, _films()[1]]

    @strawberry.field(extensions=gated(IsOwnerOrHasRole(LIBRARIAN)))
    def my_books(self) -> list[Book]:
        return _books()

    @strawberry.field(extensions=gated(IsOwnerOrHasRole(LIBRARIAN, on_list="refuse")))
    def all_books_or_nothing(self) -> list[Book] | None:
        return _books()

    @strawberry.field(extensions=gated(IsOwnerOrHasRole(LIBRARIAN)))
    async def book(self, id: strawberry.ID) -> Book | None:
        await asyncio.sleep(0)
        return next((b for b in _books() if b.id == id), None)

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def first(self) -> Book:
        return _books()[0]

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def search(self, text: str = "") -> list[SearchResult]:
        return [*_books()[:2], Author(name="Austen"), _films()[1]]

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def favourite(self) -> Item | None:
        return _films()[0]

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def nothing(self) -> SearchResult | None:
        return None

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def shelf(self) -> Shelf:
        books = _books()
        return Shelf(label="S", rows=[books[:2], [], books[2:]], sparse_rows=[[books[0], None], None])

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def strange(self, kind: str) -> list[Strange]:
        return [Odd(value=kind)]

    @strawberry.field(extensions=gated(HasRole(LIBRARIAN)))
    def wrong_item(self) -> Item | None:
        return Author(name="not an item")  # type: ignore[return-value]


def _schema() -> strawberry.Schema:
    return strawberry.Schema(query=Query, types=[Book, Film])


def _strange_resolver(value: Any, info: Any, abstract_type: Any) -> Any:
    """What `Strange` resolves to is the `kind` argument: any name, or not a name."""
    kind = value.value
    if kind == "async":

        async def later() -> str:
            await asyncio.sleep(0)
            return "Odd"

        return later()
    if kind == "async-unknown":

        async def later_unknown() -> str:
            await asyncio.sleep(0)
            return "Nowhere"

        return later_unknown()
    if kind == "path":  # graphql-core passes the field's info: its path has no list index
        return "Odd" if info.path.as_list() == ["strange"] else f"Path{info.path.as_list()}"
    return {"none": None, "number": 5, "other": "Other"}.get(kind, kind)


SCHEMA = _schema()
SCHEMA._schema.type_map["Strange"].resolve_type = _strange_resolver  # type: ignore[attr-defined]
# `Other` accepts what is resolved to it by the path of the field's own info (no index).
SCHEMA._schema.type_map["Other"].is_type_of = lambda value, info: info.path.as_list() == ["strange"]  # type: ignore[attr-defined]


class _Context:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity


def _identity(
    user_id: str, roles: frozenset[str] = frozenset(), scopes: frozenset[str] | None = None
) -> Identity:
    scheme = Scheme.TOKEN if scopes is not None else Scheme.JWT
    return Identity(user=Person(user_id), roles=roles, scopes=scopes, scheme=scheme)  # type: ignore[arg-type]


CALLERS = {
    "anonymous": ANONYMOUS,
    "alice (owner)": _identity(ALICE_ID),
    "bob (other user)": _identity(BOB_ID),
    "librarian": _identity("9", roles=frozenset({LIBRARIAN})),
    "alice's token with the scope": _identity(ALICE_ID, scopes=frozenset({"library:read"})),
    "alice's token without it": _identity(ALICE_ID, scopes=frozenset()),
}

ITEM_FIELDS = (
    "__typename id title note ... on Book { pages isbn author { name born } } ... on Film { minutes }"
)
# (name, query, variables, planned by the compiled engine)
CASES: list[tuple[str, str, dict[str, Any] | None, bool]] = [
    ("an interface list", f"{{ items {{ {ITEM_FIELDS} }} }}", None, True),
    ("an interface list, async, with nulls", f"{{ asyncItems {{ {ITEM_FIELDS} }} }}", None, True),
    (
        "an optional interface",
        "{ favourite { __typename title ... on Film { director { name born } } } }",
        None,
        True,
    ),
    (
        "a union list with fragments on members and on the interface",
        "{ search { __typename ... on Book { title pages } ... on Author { name } ... ItemBits } } "
        "fragment ItemBits on Item { id note }",
        None,
        True,
    ),
    (
        "a fragment on the interface inside an object",
        "{ first { ... on Item { title } ...B } } fragment B on Book { pages }",
        None,
        True,
    ),
    ("an optional union that is null", "{ nothing { __typename } }", None, True),
    ("lists of lists", "{ shelf { label rows { title isbn } sparseRows { title } } }", None, True),
    # The items left behind are closed, never leaked unawaited (pytest fails on those).
    ("a non-null error inside lists of lists", "{ shelf { rows { title refusedHard } } }", None, True),
    ("object-level check on a root list (filter)", "{ myBooks { id title note } }", None, True),
    ("object-level check on a root list (refuse)", "{ allBooksOrNothing { id } }", None, True),
    (
        "object-level check on one object, async",
        "query($id: ID!) { book(id: $id) { title summary note } }",
        {"id": "b2"},
        True,
    ),
    ("object-level check on a missing object", '{ book(id: "none") { title } }', None, True),
    ("object-level check per item, async resolver", "{ myBooks { summary } }", None, True),
    (
        "role, scope and plain permissions on attributes",
        "{ items { ... on Book { isbn shelfCode refused } } }",
        None,
        True,
    ),
    ("a non-null refused attribute nulls its parent", "{ first { title refusedHard } }", None, True),
    ("failing silently", "{ first { silent silentList } }", None, True),
    ("a permission returning an awaitable", "{ first { awaitableCheck } }", None, True),
    ("a permission returning a non-boolean", "{ first { nonBooleanCheck } }", None, True),
    ("an async permission", "{ myBooks { title asyncOwner } }", None, True),
    ("a permission reading info", "{ first { infoCheck } myBooks { infoCheck } }", None, True),
    ("a gated field with arguments", "{ first { excerpt e2: excerpt(length: 1) } }", None, True),
    ("errors inside a union list", "{ search { ... on Book { failing title } } }", None, True),
    ("a wrong object for an interface", "{ wrongItem { title } }", None, True),
    (
        "a type resolver naming a possible type",
        '{ strange(kind: "Odd") { ... on Odd { value } } }',
        None,
        True,
    ),
    ("a type resolver naming an unknown type", '{ strange(kind: "Nowhere") { __typename } }', None, True),
    ("a type resolver naming a scalar", '{ strange(kind: "String") { __typename } }', None, True),
    (
        "a type resolver naming an object outside the union",
        '{ strange(kind: "Author") { __typename } }',
        None,
        True,
    ),
    ("a type resolver answering None", '{ strange(kind: "none") { __typename } }', None, True),
    ("a type resolver answering a number", '{ strange(kind: "number") { __typename } }', None, True),
    ("a type resolver reading the path", '{ strange(kind: "path") { ... on Odd { value } } }', None, True),
    (
        "is_type_of reading the path",
        '{ strange(kind: "other") { __typename ... on Other { value } } }',
        None,
        True,
    ),
    ("an async type resolver", '{ strange(kind: "async") { ... on Odd { value } } }', None, True),
    (
        "an async type resolver naming an unknown type",
        '{ strange(kind: "async-unknown") { __typename } }',
        None,
        True,
    ),
    # Left to graphql-core: the answers must still be equal, and no plan may exist.
    ("a directive", "{ items { title @include(if: true) } }", None, False),
    (
        "introspection beside module fields",
        "{ __schema { queryType { name } } first { title } }",
        None,
        False,
    ),
    ("variables", "query($t: String!) { search(text: $t) { __typename } }", {"t": "x"}, True),
]


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
                repr((e.extensions or {}).get("code")),
            )
            for e in errors or []
        ),
    }


async def _run(
    engine: Any, query: str, variables: Any, identity: Identity
) -> tuple[dict[str, Any], Prepared]:
    prepared = engine.prepare(query)
    assert not prepared.errors, prepared.errors
    outcome = await engine.execute(prepared, None, variables, _Context(identity))
    return _shape(outcome.data, outcome.errors), prepared


COMPILED = CompiledEngine(SCHEMA, (), 100_000)
REFERENCE = GraphQLCoreEngine(SCHEMA, (), 100_000)


@pytest.mark.parametrize("caller", list(CALLERS), ids=list(CALLERS))
@pytest.mark.parametrize(("name", "query", "variables", "planned"), CASES, ids=[c[0] for c in CASES])
async def test_both_engines_give_a_module_the_same_answers(caller, name, query, variables, planned):
    identity = CALLERS[caller]
    mine, prepared = await _run(COMPILED, query, variables, identity)
    theirs, reference_prepared = await _run(REFERENCE, query, variables, identity)
    assert mine == theirs
    # The compiled engine planned exactly what the case says; graphql-core plans nothing.
    assert (None in prepared.plans) is planned, prepared.plans
    assert reference_prepared.plans == {}


def _field_plans(plan: SelectionPlan) -> list[FieldPlan]:
    found = []
    for field in plan.fields:
        found.append(field)
        complete = field.complete if not field.typename else None
        for cell in getattr(complete, "__closure__", None) or ():
            found += _nested(cell.cell_contents)
    return found


def _nested(value: Any, seen: set[int] | None = None) -> list[FieldPlan]:
    """Field plans reachable from a completer's closure (sub-plans of objects, lists and
    abstract types)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, SelectionPlan):
        return _field_plans(value)
    if isinstance(value, dict):
        return [f for v in value.values() for f in _nested(v, seen)]
    found: list[FieldPlan] = []
    for cell in getattr(value, "__closure__", None) or ():
        found += _nested(cell.cell_contents, seen)
    return found


def test_plain_gated_attributes_take_the_direct_check_and_the_rest_keep_strawberrys_chain():
    prepared = COMPILED.prepare(
        "{ first { isbn note silent awaitableCheck asyncOwner excerpt summary title } myBooks { id } }"
    )
    guarded = {f.key: f.guard is not None for f in _nested(prepared.plans[None].root)}
    assert guarded == {
        "first": False,  # a root field: resolvers and root checks stay with Strawberry
        "isbn": True,
        "note": True,  # IsOwnerOrHasRole on an object's field: the parent is checked
        "silent": True,
        "awaitableCheck": True,
        "asyncOwner": False,  # an async permission: Strawberry's async chain
        "excerpt": False,  # arguments
        "summary": False,  # a resolver
        "title": False,  # no permission at all
        "myBooks": False,
        "id": False,
    }
    assert all(isinstance(f.guard, Guard) for f in _nested(prepared.plans[None].root) if f.guard)


def test_a_plan_too_large_is_left_to_graphql_core(monkeypatch):
    import schema.engine.plans as plans

    query = f"{{ items {{ {ITEM_FIELDS} }} }}"
    monkeypatch.setattr(plans, "PLAN_BUDGET", 5)
    engine = CompiledEngine(SCHEMA, (), 100_000)
    assert engine.prepare(query).plans == {}


async def test_an_unknown_runtime_type_is_an_error_located_at_its_item():
    outcome = await COMPILED.execute(
        COMPILED.prepare('{ strange(kind: "Nowhere") { __typename } }'),
        None,
        None,
        _Context(CALLERS["librarian"]),
    )
    (error,) = outcome.errors
    assert isinstance(error, GraphQLError)
    assert (
        error.message
        == "Abstract type 'Strange' was resolved to a type 'Nowhere' that does not exist inside the schema."
    )
    assert error.path == ["strange", 0]
    assert outcome.data is None  # a non-null item in a non-null list reaches the root
