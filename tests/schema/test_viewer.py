"""schema/viewer.py: the schema a credential could use, reduced from the printed SDL
(contract section 7). Pure: tiny schemas, stand-in permissions, no app."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql import build_schema, parse, print_schema, validate_schema
from strawberry.permission import BasePermission
from strawberry.schema_directive import Location
from strawberry.types import Info

from auth.identity import ANONYMOUS, Identity, Scheme
from auth.permissions import gated
from core.errors import BadUserInput
from schema.build import build_schema as build_gatehouse_schema
from schema.viewer import EmptyQuery, Reduction, ViewerSchemas, print_sdl, reduce_sdl, viewer_schemas
from tests.helpers import make_settings
from tests.helpers.account_mail import ACCOUNT_MAIL_PUBLIC
from tests.helpers.federation import FEDERATION_PUBLIC


def built(reduction: Reduction) -> Any:
    """The reduced SDL built back by graphql-core, checked valid."""
    schema = build_schema(reduction.sdl)
    assert validate_schema(schema) == [], reduction.sdl
    return schema


def field_names(schema: Any, type_name: str) -> set[str]:
    return set(schema.type_map[type_name].fields)


# --- The reduction on SDL -------------------------------------------------------------

SHOP = '''
directive @hasRole(role: String!) on FIELD_DEFINITION
directive @isAuthenticated on FIELD_DEFINITION
directive @unused on FIELD_DEFINITION

"""An item for sale."""
type Item {
  name: String!
  """Requires: @hasRole(role: "admin")"""
  cost: Int @hasRole(role: "admin")
}

type Order {
  id: ID!
  items: [Item!]!
}

input OrderInput { item: String!  quantity: Int = 1 }

type Query {
  items: [Item!]!
  orders: [Order!]! @isAuthenticated
}

type Mutation {
  placeOrder(input: OrderInput!): Order! @isAuthenticated
}
'''


def test_nothing_hidden_keeps_the_whole_schema():
    reduction = reduce_sdl(SHOP, hidden=())

    assert print_schema(built(reduction)) == print_schema(build_schema(SHOP)).replace(
        "directive @unused on FIELD_DEFINITION\n\n", ""
    )
    assert "Item.cost" in reduction.fields and "Mutation.placeOrder" in reduction.fields
    assert "@unused" not in reduction.sdl, "a directive no field applies is not printed"


def test_hidden_fields_go_and_so_does_what_only_they_reached():
    reduction = reduce_sdl(SHOP, hidden={"Query.orders", "Mutation.placeOrder", "Item.cost"})
    schema = built(reduction)

    assert field_names(schema, "Query") == {"items"}
    assert field_names(schema, "Item") == {"name"}
    assert schema.mutation_type is None, "an emptied Mutation is dropped"
    assert "Order" not in schema.type_map and "OrderInput" not in schema.type_map
    assert "type Mutation" not in reduction.sdl
    assert "@hasRole" not in reduction.sdl and "@isAuthenticated" not in reduction.sdl
    assert "An item for sale." in reduction.sdl, "descriptions are kept"
    assert reduction.fields == {"Query.items", "Item.name"}


def test_a_kept_field_keeps_its_directive_and_the_types_of_its_arguments():
    reduction = reduce_sdl(SHOP, hidden={"Item.cost"})
    schema = built(reduction)

    assert "placeOrder(input: OrderInput!): Order! @isAuthenticated" in reduction.sdl
    assert "directive @isAuthenticated on FIELD_DEFINITION" in reduction.sdl
    assert "directive @hasRole" not in reduction.sdl
    assert set(schema.type_map["OrderInput"].fields) == {"item", "quantity"}


def test_descriptions_inside_a_type_are_spaced_as_print_schema_spaces_them():
    sdl = '''
    """A type."""
    type Query {
      plain: Int
      """One line."""
      described: Int
      """
      Two
      lines.
      """
      long(
        """An argument."""
        first: Int
        """Another."""
        second: Int
      ): Int
    }
    '''
    printed = print_sdl(parse(sdl))

    assert printed == "\n".join(
        [
            '"""A type."""',
            "type Query {",
            "  plain: Int",
            "",
            '  """One line."""',
            "  described: Int",
            "",
            '  """',
            "  Two",
            "  lines.",
            '  """',
            "  long(",
            '    """An argument."""',
            "    first: Int",
            "",
            '    """Another."""',
            "    second: Int",
            "  ): Int",
            "}",
        ]
    )
    assert build_schema(printed).query_type.fields["long"].args["second"].description == "Another."


def test_a_kept_directive_keeps_the_types_of_its_arguments():
    sdl = """
    enum Mode { STRICT LAX }
    directive @guard(mode: Mode!) on FIELD_DEFINITION
    type Query { guarded: Int @guard(mode: STRICT)  open: Int }
    """
    kept = built(reduce_sdl(sdl, hidden=()))
    dropped = reduce_sdl(sdl, hidden={"Query.guarded"})

    assert "Mode" in kept.type_map and kept.get_directive("guard") is not None
    assert "Mode" not in built(dropped).type_map and "@guard" not in dropped.sdl


def test_an_empty_query_is_refused():
    with pytest.raises(EmptyQuery):
        reduce_sdl(SHOP, hidden={"Query.items", "Query.orders"})


def test_a_field_whose_type_is_left_empty_goes_too_level_after_level():
    sdl = """
    type Secret { value: String }
    type Vault { secret: Secret! }
    type Query { vault: Vault  open: Boolean! }
    """
    reduction = reduce_sdl(sdl, hidden={"Secret.value"})
    schema = built(reduction)

    assert field_names(schema, "Query") == {"open"}
    assert "Vault" not in schema.type_map and "Secret" not in schema.type_map


UNIONS = """
type Photo { url: String! }
type Memo { text: String! }
union Attachment = Photo | Memo
type Query { attachments: [Attachment!]!  hello: String }
"""


def test_a_union_loses_its_emptied_members():
    schema = built(reduce_sdl(UNIONS, hidden={"Memo.text"}))

    assert [member.name for member in schema.type_map["Attachment"].types] == ["Photo"]
    assert "Memo" not in schema.type_map


def test_a_union_with_no_member_left_goes_with_its_fields():
    schema = built(reduce_sdl(UNIONS, hidden={"Memo.text", "Photo.url"}))

    assert "Attachment" not in schema.type_map
    assert field_names(schema, "Query") == {"hello"}


INTERFACES = """
interface Node { id: ID!  owner: String }
type Note implements Node { id: ID!  owner: String  body: String }
type Tag implements Node { id: ID!  owner: String }
type Query { node(id: ID!): Node  notes: [Note!]! }
"""


def test_an_interface_keeps_a_field_only_if_every_implementation_keeps_it():
    reduction = reduce_sdl(INTERFACES, hidden={"Tag.owner"})
    schema = built(reduction)

    assert field_names(schema, "Node") == {"id"}
    assert field_names(schema, "Note") == {"id", "owner", "body"}
    assert field_names(schema, "Tag") == {"id"}
    assert "Node.owner" not in reduction.fields


def test_the_implementations_of_a_reachable_interface_are_kept():
    schema = built(reduce_sdl(INTERFACES, hidden={"Query.notes"}))

    assert {"Note", "Tag"} <= set(schema.type_map), "Query.node may return either"
    assert {t.name for t in schema.get_implementations(schema.type_map["Node"]).objects} == {"Note", "Tag"}


def test_an_emptied_implementation_does_not_empty_its_interface():
    schema = built(reduce_sdl(INTERFACES, hidden={"Tag.id", "Tag.owner"}))

    assert field_names(schema, "Node") == {"id", "owner"}
    assert "Tag" not in schema.type_map


def test_an_emptied_interface_leaves_its_implementations_alone():
    schema = built(reduce_sdl(INTERFACES, hidden={"Node.id", "Node.owner"}))

    assert "Node" not in schema.type_map
    assert field_names(schema, "Query") == {"notes"}
    assert list(schema.type_map["Note"].interfaces) == []


def test_a_schema_definition_with_other_root_names_loses_its_emptied_roots():
    sdl = """
    schema { query: Root  mutation: Change }
    type Root { ping: Boolean }
    type Change { poke: Boolean }
    """
    reduction = reduce_sdl(sdl, hidden={"Change.poke"})
    schema = built(reduction)

    assert schema.query_type.name == "Root"
    assert schema.mutation_type is None
    assert "Change" not in reduction.sdl


# --- Permissions read off a Strawberry schema, with stand-ins ---------------------------


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], repeatable=True)
class StandIn:
    """A stand-in permission's directive (printed as `@standIn(name: "...")`); repeatable,
    since `Query.ledger` carries two."""

    name: str


class Allows(BasePermission):
    """A stand-in permission: could allow exactly the identities holding `role`."""

    def __init__(self, role: str) -> None:
        self.role = role

    @property
    def schema_directive(self) -> object:
        return StandIn(name=self.role)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return self.could_allow(info.context.identity)

    def could_allow(self, identity: Identity) -> bool:
        return identity.has_role(self.role)


class Legacy(BasePermission):
    """A permission from before `could_allow`: the field is hidden from everyone."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


@strawberry.type
class Report:
    title: str
    budget: int = strawberry.field(extensions=gated(Allows("finance")))


@strawberry.type(name="Query")
class TinyQuery:
    @strawberry.field(metadata={"public": True})
    def hello(self) -> str:
        return "hi"

    @strawberry.field(extensions=gated(Allows("staff")))
    def reports(self) -> list[Report]:
        return []

    @strawberry.field(extensions=gated(Allows("staff"), Allows("finance")))
    def ledger(self) -> int:
        return 0

    @strawberry.field(extensions=gated(Legacy()))
    def legacy(self) -> int:
        return 0


@strawberry.type(name="Mutation")
class TinyMutation:
    @strawberry.mutation(extensions=gated(Allows("staff")))
    def file_report(self, title: str) -> Report:
        return Report(title=title, budget=0)


def person(*roles: str) -> Identity:
    return Identity(user=SimpleNamespace(id=7), roles=frozenset(roles), scheme=Scheme.SESSION)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny() -> ViewerSchemas:
    schema = strawberry.Schema(query=TinyQuery, mutation=TinyMutation)
    return ViewerSchemas(schema._schema, schema.as_str())


def test_anonymous_sees_the_public_fields_only(tiny: ViewerSchemas):
    schema = built(tiny.view(ANONYMOUS))

    assert field_names(schema, "Query") == {"hello"}
    assert schema.mutation_type is None
    assert "Report" not in schema.type_map
    assert tiny.anonymous is tiny.view(ANONYMOUS)


def test_a_field_is_kept_when_every_permission_on_it_could_allow(tiny: ViewerSchemas):
    staff = built(tiny.view(person("staff")))
    both = built(tiny.view(person("staff", "finance")))
    finance = built(tiny.view(person("finance")))

    assert field_names(staff, "Query") == {"hello", "reports"}
    assert field_names(staff, "Report") == {"title"}
    assert field_names(staff, "Mutation") == {"fileReport"}
    assert field_names(both, "Query") == {"hello", "reports", "ledger"}
    assert field_names(both, "Report") == {"title", "budget"}
    assert field_names(finance, "Query") == {"hello"}, "Report is unreachable without Query.reports"
    assert '@standIn(name: "staff")' in tiny.view(person("staff")).sdl


def test_a_permission_without_could_allow_hides_its_field_from_everyone(tiny: ViewerSchemas):
    everyone = person("staff", "finance")

    assert "legacy" not in field_names(built(tiny.view(everyone)), "Query")
    assert tiny.can(everyone, "Query.legacy") is False


def test_one_reduction_is_kept_per_set_of_hidden_fields(tiny: ViewerSchemas):
    assert tiny.view(person("staff")) is tiny.view(person("staff", "unrelated"))
    assert tiny.view(person("staff")) is not tiny.view(person("staff", "finance"))


def test_can_answers_as_the_reduced_schema_lists(tiny: ViewerSchemas):
    staff = person("staff")

    assert tiny.can(ANONYMOUS, "Query.hello") is True
    assert tiny.can(ANONYMOUS, "Query.reports") is False
    assert tiny.can(staff, "Query.reports") is True
    assert tiny.can(staff, "Mutation.fileReport") is True
    assert tiny.can(staff, "Report.title") is True
    assert tiny.can(staff, "Report.budget") is False
    # Unreachable for this caller, though the field itself carries no permission.
    assert tiny.can(person("finance"), "Report.title") is False


def fresh_tiny() -> ViewerSchemas:
    schema = strawberry.Schema(query=TinyQuery, mutation=TinyMutation)
    return ViewerSchemas(schema._schema, schema.as_str())


def test_can_answers_without_printing_a_schema(tiny: ViewerSchemas, monkeypatch):
    # Printing is the dear part of a reduction (milliseconds); `can` needs only the names.
    fresh = fresh_tiny()

    def no_printing(document: Any) -> str:
        raise AssertionError("viewer.can printed a schema")

    monkeypatch.setattr("schema.viewer.print_sdl", no_printing)
    for who in (person("staff"), person("finance"), person("staff", "finance"), ANONYMOUS):
        for coordinate in sorted(fresh._fields):
            assert fresh.can(who, coordinate) is (coordinate in tiny.view(who).fields), coordinate


async def test_view_async_prints_a_new_reduction_off_the_event_loop_once(monkeypatch):
    import asyncio
    import threading

    fresh = fresh_tiny()
    staff = person("staff")
    expected = fresh_tiny().view(staff)
    printed_in: list[str] = []
    real_print = print_sdl

    def recording_print(document: Any) -> str:
        printed_in.append(threading.current_thread().name)
        return real_print(document)

    monkeypatch.setattr("schema.viewer.print_sdl", recording_print)
    first, second, third = await asyncio.gather(*(fresh.view_async(staff) for _ in range(3)))

    assert first is second is third, "callers waiting together share one reduction"
    assert first == expected
    assert len(printed_in) == 1 and printed_in[0] != threading.current_thread().name
    assert await fresh.view_async(staff) is first and len(printed_in) == 1, "kept"
    assert await fresh.view_async(ANONYMOUS) is fresh.anonymous


@pytest.mark.parametrize(
    ("coordinate", "message"),
    [
        ("reports", "Name a field as Type.field"),
        ("Query.", "Name a field as Type.field"),
        ("Query.reports.title", "Name a field as Type.field"),
        ("", "Name a field as Type.field"),
        ("Nope.reports", "no type Nope"),
        ("__Schema.types", "no type __Schema"),
        ("Query.nope", "Query has no field nope"),
        ("String.length", "String is not an object or interface type"),
        ("Query.reports\n", "Name a field as Type.field"),
        ("\nQuery.reports", "Name a field as Type.field"),
    ],
)
def test_can_refuses_a_malformed_or_unknown_field(tiny: ViewerSchemas, coordinate: str, message: str):
    with pytest.raises(BadUserInput) as refused:
        tiny.can(ANONYMOUS, coordinate)

    assert set(refused.value.fields) == {"field"}
    assert message in refused.value.fields["field"]
    assert refused.value.extensions["code"] == "BAD_USER_INPUT"


def test_a_schema_whose_anonymous_query_is_empty_is_refused_when_made():
    @strawberry.type(name="Query")
    class ClosedQuery:
        @strawberry.field(extensions=gated(Allows("staff")))
        def reports(self) -> list[Report]:
            return []

    schema = strawberry.Schema(query=ClosedQuery)
    with pytest.raises(EmptyQuery):
        ViewerSchemas(schema._schema, schema.as_str())


# --- Gatehouse's own schema, with the real permission classes ---------------------------


@pytest.fixture(scope="module")
def gatehouse() -> ViewerSchemas:
    return viewer_schemas(build_gatehouse_schema(make_settings()))


def token(*scopes: str, roles: tuple[str, ...] = ()) -> Identity:
    return Identity(
        user=SimpleNamespace(id=9),  # type: ignore[arg-type]
        roles=frozenset(roles),
        scopes=frozenset(scopes),
        scheme=Scheme.TOKEN,
        credential_kind="API_TOKEN",
    )


def test_an_anonymous_query_holds_me_and_viewer(gatehouse: ViewerSchemas):
    schema = built(gatehouse.anonymous)

    assert field_names(schema, "Query") == {"me", "viewer"}
    assert field_names(schema, "Mutation") == {
        "register",
        "login",
        "refreshToken",
        *ACCOUNT_MAIL_PUBLIC,
        *FEDERATION_PUBLIC,
    }
    assert "email" not in field_names(schema, "User")
    assert "emailVerified" not in field_names(schema, "User"), "gated as email is"
    assert "Credential" not in schema.type_map


def test_a_user_sees_their_own_fields_and_no_admin_field(gatehouse: ViewerSchemas):
    schema = built(gatehouse.view(person()))

    assert field_names(schema, "Query") == {"me", "viewer", "user", "myCredentials"}
    assert "grantRole" not in field_names(schema, "Mutation")
    assert "logout" in field_names(schema, "Mutation")
    assert "email" in field_names(schema, "User"), "their own email, at least"
    assert "emailVerified" in field_names(schema, "User")
    assert "UserConnection" not in schema.type_map


def test_an_admin_with_a_full_rights_credential_sees_the_whole_schema(gatehouse: ViewerSchemas):
    full = build_gatehouse_schema(make_settings())
    mine = gatehouse.view(person("admin"))

    assert mine.sdl == full.as_str(), "byte for byte, as Strawberry prints it"
    assert print_schema(built(mine)) == print_schema(build_schema(full.as_str()))


def test_an_api_token_sees_what_its_scopes_allow(gatehouse: ViewerSchemas):
    bare = built(gatehouse.view(token()))
    reader = built(gatehouse.view(token("users:read", roles=("admin",))))

    assert field_names(bare, "Query") == {"me", "viewer"}
    assert "logout" in field_names(bare, "Mutation"), "needs only a signed-in user"
    assert "createApiToken" not in field_names(bare, "Mutation")
    assert field_names(reader, "Query") == {"me", "viewer", "user", "users"}
    assert "grantRole" not in field_names(reader, "Mutation"), "users:write is not among its scopes"
