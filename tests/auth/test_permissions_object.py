"""`IsOwnerOrHasRole` on tiny schemas: root fields judge what they return (one object,
`None`, lists filtered or refused, sync and async resolvers, subscriptions), fields of
object types judge their parent, and the directive prints with its arguments."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from types import SimpleNamespace

import pytest
import strawberry

from auth.identity import ANONYMOUS, Identity
from auth.permissions import IsOwnerOrHasRole, gated
from schema.rules import describe_rules
from tests.helpers.tiny_schemas import Ctx, ErrorCodes
from tests.helpers.tiny_schemas import identity_of as identity

ALICE_ID = uuid.uuid4()
BOB_ID = uuid.uuid4()


ALICE = identity(ALICE_ID)
BOB = identity(BOB_ID)
ADMIN = identity(uuid.uuid4(), roles=("admin",))


@strawberry.type
class Note:
    id: int
    owner_id: strawberry.Private[uuid.UUID]
    title: str
    body: str = strawberry.field(extensions=gated(IsOwnerOrHasRole("admin")))


@strawberry.type
class Post:
    id: int
    author: strawberry.Private[str]


NOTES = [
    Note(id=1, owner_id=ALICE_ID, title="a1", body="alice one"),
    Note(id=2, owner_id=BOB_ID, title="b2", body="bob two"),
    Note(id=3, owner_id=ALICE_ID, title="a3", body="alice three"),
]
CALLS: list[str] = []


class Awaitable:
    """What a sync resolver may hand back (a Tortoise query, say): awaited later."""

    def __init__(self, value):
        self.value = value

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        return self.value


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(IsOwnerOrHasRole("admin")))
    def note(self, id: int) -> Note | None:
        CALLS.append("note")
        return next((n for n in NOTES if n.id == id), None)

    @strawberry.field(extensions=gated(IsOwnerOrHasRole("admin")))
    async def note_async(self, id: int) -> Note:
        await asyncio.sleep(0)
        return next(n for n in NOTES if n.id == id)

    @strawberry.field(extensions=gated(IsOwnerOrHasRole("admin")))
    def notes(self) -> list[Note]:
        CALLS.append("notes")
        return list(NOTES)

    @strawberry.field(extensions=gated(IsOwnerOrHasRole("admin")))
    async def notes_async(self) -> list[Note] | None:
        await asyncio.sleep(0)
        return list(NOTES)

    @strawberry.field(extensions=gated(IsOwnerOrHasRole("admin")))
    def notes_later(self) -> list[Note]:
        return Awaitable(list(NOTES))  # type: ignore[return-value]

    @strawberry.field(extensions=gated(IsOwnerOrHasRole("admin", on_list="refuse")))
    def notes_or_nothing(self) -> list[Note]:
        return list(NOTES)

    @strawberry.field(extensions=gated(IsOwnerOrHasRole("admin", owner_field="author")))
    def by_author(self) -> list[Post]:
        return [Post(id=9, author=str(ALICE_ID))]

    @strawberry.field
    def all_notes(self) -> list[Note]:
        """Ungated: the per-object rule sits on `Note.body`."""
        return list(NOTES)


@strawberry.type
class Subscription:
    @strawberry.subscription(extensions=gated(IsOwnerOrHasRole("admin")))
    async def note_events(self) -> AsyncGenerator[Note, None]:
        for note in NOTES:
            yield note

    @strawberry.subscription(extensions=gated(IsOwnerOrHasRole("admin", on_list="refuse")))
    async def note_events_or_nothing(self) -> AsyncGenerator[Note, None]:
        for note in NOTES:
            yield note

    @strawberry.subscription(extensions=gated(IsOwnerOrHasRole("admin")))
    async def note_batches(self) -> AsyncGenerator[list[Note], None]:
        yield list(NOTES)


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription, extensions=[ErrorCodes])


async def run(query: str, who: Identity):
    return await SCHEMA.execute(query, context_value=Ctx(who))


def codes(result) -> list[str]:
    return [e.extensions["code"] for e in result.errors or []]


@pytest.mark.parametrize(
    "field",
    [
        "note(id: 1) { id }",
        "noteAsync(id: 1) { id }",
        "notes { id }",
        "notesAsync { id }",
        "notesLater { id }",
        "notesOrNothing { id }",
        "byAuthor { id }",
    ],
)
async def test_anonymous_is_unauthenticated_before_the_resolver_runs(field):
    CALLS.clear()
    result = await run(f"{{ {field} }}", ANONYMOUS)
    assert codes(result) == ["UNAUTHENTICATED"]
    assert CALLS == []


@pytest.mark.parametrize("field", ["note", "noteAsync"])
async def test_the_owner_gets_their_object(field):
    result = await run(f"{{ {field}(id: 1) {{ id title body }} }}", ALICE)
    assert result.errors is None
    assert result.data == {field: {"id": 1, "title": "a1", "body": "alice one"}}


@pytest.mark.parametrize("field", ["note", "noteAsync"])
async def test_another_user_is_forbidden_the_object(field):
    result = await run(f"{{ {field}(id: 2) {{ id }} }}", ALICE)
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == [field]
    assert result.data is None if field == "noteAsync" else result.data == {"note": None}


@pytest.mark.parametrize("field", ["note", "noteAsync"])
async def test_the_role_gets_anyone_s_object(field):
    result = await run(f"{{ {field}(id: 2) {{ id body }} }}", ADMIN)
    assert result.errors is None
    assert result.data == {field: {"id": 2, "body": "bob two"}}


async def test_a_missing_object_stays_null():
    result = await run("{ note(id: 99) { id } }", ALICE)
    assert result.errors is None
    assert result.data == {"note": None}


@pytest.mark.parametrize("field", ["notes", "notesAsync", "notesLater"])
async def test_a_list_keeps_only_the_caller_s_objects(field):
    alice = await run(f"{{ {field} {{ id }} }}", ALICE)
    bob = await run(f"{{ {field} {{ id }} }}", BOB)
    assert alice.errors is None and bob.errors is None
    assert alice.data == {field: [{"id": 1}, {"id": 3}]}
    assert bob.data == {field: [{"id": 2}]}


@pytest.mark.parametrize("field", ["notes", "notesAsync", "notesLater", "notesOrNothing"])
async def test_the_role_gets_the_whole_list(field):
    result = await run(f"{{ {field} {{ id }} }}", ADMIN)
    assert result.errors is None
    assert result.data == {field: [{"id": 1}, {"id": 2}, {"id": 3}]}


async def test_a_refusing_list_is_forbidden_whole_when_one_object_is_not_allowed():
    result = await run("{ notesOrNothing { id } }", ALICE)
    assert codes(result) == ["FORBIDDEN"]
    assert result.data is None


async def test_a_refusing_list_of_only_own_objects_is_answered():
    rule = IsOwnerOrHasRole("admin", on_list="refuse")
    mine = [n for n in NOTES if n.owner_id == ALICE_ID]
    assert rule.judge(ALICE, mine, is_list=True) == mine
    assert rule.judge(ALICE, [], is_list=True) == []


async def test_owner_field_names_the_attribute_or_mapping_key():
    assert (await run("{ byAuthor { id } }", ALICE)).data == {"byAuthor": [{"id": 9}]}
    assert (await run("{ byAuthor { id } }", BOB)).data == {"byAuthor": []}
    rule = IsOwnerOrHasRole("admin", owner_field="author")
    assert rule.judge(ALICE, [{"author": ALICE_ID}, {"author": BOB_ID}, {}], is_list=True) == [
        {"author": ALICE_ID}
    ]


async def test_on_an_object_type_s_field_the_parent_object_is_judged():
    result = await run("{ allNotes { id body } }", ALICE)
    assert result.data is None  # Bob's note's body is non-null: the null reaches the root
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["allNotes", 1, "body"]


async def test_on_an_object_type_s_field_the_owner_and_role_pass():
    admin = await run("{ allNotes { body } }", ADMIN)
    assert admin.errors is None
    assert [n["body"] for n in admin.data["allNotes"]] == ["alice one", "bob two", "alice three"]
    own = await run("{ note(id: 3) { body } }", ALICE)
    assert own.data == {"note": {"body": "alice three"}}


async def test_on_an_object_type_s_field_anonymous_is_unauthenticated():
    result = await run("{ allNotes { id body } }", ANONYMOUS)
    assert set(codes(result)) == {"UNAUTHENTICATED"}


async def events(who: Identity, field: str = "noteEvents") -> list:
    stream = await SCHEMA.subscribe(f"subscription {{ {field} {{ id }} }}", context_value=Ctx(who))
    return [item async for item in stream]  # type: ignore[union-attr]


async def test_a_subscription_skips_the_events_the_caller_may_not_see():
    # The stream is judged as a list (on_list="filter"): Bob's note is left out, not an error.
    got = await events(ALICE)
    assert [r.errors for r in got] == [None, None]
    assert [r.data for r in got] == [{"noteEvents": {"id": 1}}, {"noteEvents": {"id": 3}}]
    assert [r.data for r in await events(BOB)] == [{"noteEvents": {"id": 2}}]


async def test_a_refusing_subscription_is_forbidden_at_the_first_event_not_allowed():
    got = await events(ALICE, "noteEventsOrNothing")
    assert got[0].data == {"noteEventsOrNothing": {"id": 1}}
    assert len(got) == 2, "the stream ends at the first event that is not the caller's"
    assert got[1].data is None
    assert [e.extensions["code"] for e in got[1].errors] == ["FORBIDDEN"]


async def test_a_subscription_of_lists_filters_each_event_as_a_list():
    got = await events(ALICE, "noteBatches")
    assert [r.data for r in got] == [{"noteBatches": [{"id": 1}, {"id": 3}]}]


@pytest.mark.parametrize("field", ["noteEvents", "noteEventsOrNothing"])
async def test_a_subscription_sends_the_role_every_event(field):
    got = await events(ADMIN, field)
    assert [r.data for r in got] == [{field: {"id": n.id}} for n in NOTES]


async def test_a_subscription_closes_the_resolver_s_stream_when_it_is_closed():
    closed: list[bool] = []

    async def forever() -> AsyncGenerator[Note, None]:
        try:
            while True:
                yield NOTES[1]
                await asyncio.sleep(0)
        finally:
            closed.append(True)

    extension = gated(IsOwnerOrHasRole("admin"))[0]
    stream = extension._judge_each(forever(), SimpleNamespace(context=Ctx(ADMIN)))  # type: ignore[attr-defined]
    assert await stream.__anext__() is NOTES[1]
    await stream.aclose()  # the client completed the subscription
    assert closed == [True], "closed at once, not whenever the collector gets to it"


def test_on_list_must_be_filter_or_refuse():
    with pytest.raises(ValueError, match="on_list"):
        IsOwnerOrHasRole("admin", on_list="drop")  # type: ignore[arg-type]


def test_the_directive_prints_with_its_role_and_on_list_only_when_refusing():
    sdl = SCHEMA.as_str()
    assert "directive @isOwnerOrHasRole(role: String!, onList: String) repeatable on FIELD_DEFINITION" in sdl
    assert 'note(id: Int!): Note @isOwnerOrHasRole(role: "admin")\n' in sdl
    assert 'notesOrNothing: [Note!]! @isOwnerOrHasRole(role: "admin", onList: "refuse")\n' in sdl
    assert 'body: String! @isOwnerOrHasRole(role: "admin")\n' in sdl
    assert sdl.count("directive @isOwnerOrHasRole") == 1


def test_describe_rules_names_the_rule_with_its_arguments():
    @strawberry.type
    class Q:
        @strawberry.field(extensions=gated(IsOwnerOrHasRole("admin", on_list="refuse")))
        def notes(self) -> list[Note]:
            return []

        @strawberry.field(extensions=gated(IsOwnerOrHasRole("editor")))
        def note(self) -> Note | None:
            return None

    schema = strawberry.Schema(query=Q)
    describe_rules(schema._schema)
    fields = schema._schema.query_type.fields
    assert fields["notes"].description == 'Requires: @isOwnerOrHasRole(role: "admin", onList: "refuse")'
    assert fields["note"].description == 'Requires: @isOwnerOrHasRole(role: "editor")'
    assert (
        schema._schema.type_map["Note"].fields["body"].description
        == 'Requires: @isOwnerOrHasRole(role: "admin")'
    )


def test_could_allow_says_yes_to_any_signed_in_user():
    rule = IsOwnerOrHasRole("admin")
    assert rule.could_allow(ALICE) and rule.could_allow(ADMIN)
    assert not rule.could_allow(ANONYMOUS)
