"""The notes module's fields through the real app: who may read, list and write notes.

Owner, another user, an admin, anonymous callers and API tokens with and without the
scopes, as contract section 8 words the example: notes readable by their owner and by
`admin`, listed with `notes:read`, written with `notes:write`.
"""

from __future__ import annotations

import httpx
import pytest

from app.factory import create_app
from schema.build import build_schema
from tests.examples.notes.documents import (
    ALL_NOTES,
    CREATE,
    DELETE,
    NOTE,
    NOTES,
    REVOKE,
    REVOKE_ROLE,
    UPDATE,
    call,
    create_note,
    only_code,
)
from tests.helpers import Persona, basic, cookie_header, cookie_login, create_token, make_settings, token


def test_the_schema_shows_each_rule_as_directives(settings) -> None:
    sdl = build_schema(settings).as_str()
    assert (
        'notes(first: Int = 20, after: ID = null): [Note!]! @hasScope(scope: "notes:read") '
        '@isOwnerOrHasRole(role: "admin")'
    ) in sdl
    assert 'createNote(input: NoteInput!): Note! @hasScope(scope: "notes:write")\n' in sdl
    assert '[Note!]! @hasRole(role: "admin") @hasScope(scope: "notes:read")\n' in sdl


# ---- the owner


async def test_the_owner_creates_reads_and_lists_their_note(http, alice: Persona, alice_jwt) -> None:
    note = await create_note(http, alice_jwt, "  Groceries  ", "milk\neggs")
    assert note["title"] == "Groceries"  # trimmed
    assert note["body"] == "milk\neggs"
    assert note["ownerId"] == alice.id

    read = await call(http, NOTE, alice_jwt, id=note["id"])
    assert read.status == 200 and not read.errors, read.body
    assert read.data["note"] == note

    listed = await call(http, NOTES, alice_jwt)
    assert listed.data["notes"] == [note]


async def test_the_owner_updates_one_field_and_keeps_the_other(http, alice_jwt) -> None:
    note = await create_note(http, alice_jwt, "Draft", "first words")
    result = await call(http, UPDATE, alice_jwt, id=note["id"], input={"title": "Final"})
    assert not result.errors, result.body
    updated = result.data["updateNote"]
    assert (updated["title"], updated["body"]) == ("Final", "first words")
    assert updated["createdAt"] == note["createdAt"]
    assert updated["updatedAt"] >= note["updatedAt"]

    result = await call(http, UPDATE, alice_jwt, id=note["id"], input={"body": ""})
    assert result.data["updateNote"]["body"] == ""
    assert result.data["updateNote"]["title"] == "Final"


async def test_the_owner_deletes_their_note(http, alice_jwt) -> None:
    note = await create_note(http, alice_jwt)
    result = await call(http, DELETE, alice_jwt, id=note["id"])
    assert not result.errors, result.body
    assert result.data["deleteNote"]["id"] == note["id"]
    assert (await call(http, NOTES, alice_jwt)).data["notes"] == []
    gone = await call(http, NOTE, alice_jwt, id=note["id"])
    assert only_code(gone) == "BAD_USER_INPUT"


# ---- another user


async def test_another_users_note_is_forbidden(http, alice_jwt, bob_jwt) -> None:
    note = await create_note(http, alice_jwt)
    result = await call(http, NOTE, bob_jwt, id=note["id"])
    assert only_code(result) == "FORBIDDEN"
    assert result.status == 403
    assert result.data is None
    assert "milk" not in str(result.body)


async def test_another_users_notes_are_absent_from_the_list(http, alice_jwt, bob_jwt) -> None:
    await create_note(http, alice_jwt, "Alice's")
    mine = await create_note(http, bob_jwt, "Bob's")
    listed = await call(http, NOTES, bob_jwt, first=100)
    assert not listed.errors, listed.body
    assert [n["id"] for n in listed.data["notes"]] == [mine["id"]]


async def test_another_user_can_neither_change_nor_delete_a_note(http, alice_jwt, bob_jwt) -> None:
    note = await create_note(http, alice_jwt, "Mine", "untouched")
    update = await call(http, UPDATE, bob_jwt, id=note["id"], input={"title": "Stolen", "body": ""})
    assert only_code(update) == "FORBIDDEN"
    delete = await call(http, DELETE, bob_jwt, id=note["id"])
    assert only_code(delete) == "FORBIDDEN"
    # The check ran before the write: the note is as alice left it.
    kept = await call(http, NOTE, alice_jwt, id=note["id"])
    assert kept.data["note"] == note


async def test_another_user_may_not_page_from_someone_elses_note(http, alice_jwt, bob_jwt) -> None:
    note = await create_note(http, alice_jwt)
    result = await call(http, NOTES, bob_jwt, after=note["id"])
    assert only_code(result) == "BAD_USER_INPUT"
    assert result.errors[0]["extensions"]["fields"] == {"after": "No such note."}


async def test_all_notes_is_for_admins_only(http, alice_jwt) -> None:
    await create_note(http, alice_jwt)
    result = await call(http, ALL_NOTES, alice_jwt)
    assert only_code(result) == "FORBIDDEN"
    assert result.status == 403


# ---- the admin


async def test_an_admin_reads_anyones_note(http, alice_jwt, admin_jwt) -> None:
    note = await create_note(http, alice_jwt)
    result = await call(http, NOTE, admin_jwt, id=note["id"])
    assert not result.errors, result.body
    assert result.data["note"] == note


async def test_an_admin_lists_everyones_notes_and_one_owners(
    http, alice: Persona, alice_jwt, bob_jwt, admin_jwt
) -> None:
    first = await create_note(http, alice_jwt, "one")
    second = await create_note(http, bob_jwt, "two")
    third = await create_note(http, alice_jwt, "three")
    everyone = await call(http, ALL_NOTES, admin_jwt)
    assert not everyone.errors, everyone.body
    assert [n["id"] for n in everyone.data["allNotes"]] == [first["id"], second["id"], third["id"]]

    alices = await call(http, ALL_NOTES, admin_jwt, ownerId=alice.id)
    assert [n["id"] for n in alices.data["allNotes"]] == [first["id"], third["id"]]

    # `notes` is the admin's own list, like anybody's.
    own = await call(http, NOTES, admin_jwt)
    assert own.data["notes"] == []


async def test_an_admin_may_change_and_delete_anyones_note(http, alice_jwt, admin_jwt) -> None:
    note = await create_note(http, alice_jwt)
    update = await call(http, UPDATE, admin_jwt, id=note["id"], input={"title": "Moderated"})
    assert not update.errors, update.body
    assert update.data["updateNote"]["ownerId"] == note["ownerId"]  # still alice's
    delete = await call(http, DELETE, admin_jwt, id=note["id"])
    assert not delete.errors, delete.body
    assert (await call(http, NOTES, alice_jwt)).data["notes"] == []


async def test_a_revoked_role_is_felt_on_the_next_request(http, admin: Persona, admin_jwt) -> None:
    assert not (await call(http, ALL_NOTES, admin_jwt)).errors
    revoked = await call(http, REVOKE_ROLE, admin_jwt, u=admin.id, r="admin")
    assert not revoked.errors, revoked.body
    result = await call(http, ALL_NOTES, admin_jwt)
    assert only_code(result) == "FORBIDDEN"


# ---- anonymous callers


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (NOTES, {}),
        (ALL_NOTES, {}),
        (NOTE, {"id": "00000000-0000-0000-0000-000000000000"}),
        (CREATE, {"input": {"title": "x"}}),
        (UPDATE, {"id": "00000000-0000-0000-0000-000000000000", "input": {"title": "x"}}),
        (DELETE, {"id": "00000000-0000-0000-0000-000000000000"}),
    ],
    ids=["notes", "allNotes", "note", "createNote", "updateNote", "deleteNote"],
)
async def test_anonymous_callers_are_unauthenticated(http, document, variables) -> None:
    result = await call(http, document, None, **variables)
    assert only_code(result) == "UNAUTHENTICATED"
    assert result.status == 401
    assert "WWW-Authenticate" in result.headers


async def test_an_anonymous_caller_learns_nothing_of_an_existing_note(http, alice_jwt) -> None:
    note = await create_note(http, alice_jwt)
    result = await call(http, NOTE, None, id=note["id"])
    assert only_code(result) == "UNAUTHENTICATED"
    assert result.data is None


# ---- API tokens and their scopes


async def test_a_read_token_lists_and_reads_but_cannot_write(http, alice_jwt) -> None:
    note = await create_note(http, alice_jwt)
    reader = token((await create_token(http, alice_jwt, ["notes:read"]))["token"])

    assert (await call(http, NOTES, reader)).data["notes"] == [note]
    assert (await call(http, NOTE, reader, id=note["id"])).data["note"] == note

    created = await call(http, CREATE, reader, input={"title": "sneaky"})
    assert only_code(created) == "FORBIDDEN"
    assert created.status == 403
    assert "notes:write" in created.errors[0]["message"]
    updated = await call(http, UPDATE, reader, id=note["id"], input={"title": "sneaky"})
    assert only_code(updated) == "FORBIDDEN"
    deleted = await call(http, DELETE, reader, id=note["id"])
    assert only_code(deleted) == "FORBIDDEN"
    # Nothing was written.
    assert (await call(http, NOTES, alice_jwt)).data["notes"] == [note]


async def test_a_write_token_writes_but_cannot_list(http, alice: Persona, alice_jwt) -> None:
    writer = token((await create_token(http, alice_jwt, ["notes:write"]))["token"])
    created = await call(http, CREATE, writer, input={"title": "From a script", "body": "ok"})
    assert not created.errors, created.body
    note = created.data["createNote"]
    assert note["ownerId"] == alice.id  # a token writes as its user

    updated = await call(http, UPDATE, writer, id=note["id"], input={"body": "changed"})
    assert updated.data["updateNote"]["body"] == "changed"

    listed = await call(http, NOTES, writer)
    assert only_code(listed) == "FORBIDDEN"
    assert "notes:read" in listed.errors[0]["message"]
    read = await call(http, NOTE, writer, id=note["id"])
    assert only_code(read) == "FORBIDDEN"

    deleted = await call(http, DELETE, writer, id=note["id"])
    assert not deleted.errors, deleted.body


async def test_a_write_token_of_another_user_cannot_touch_a_note(http, alice_jwt, bob_jwt) -> None:
    note = await create_note(http, alice_jwt)
    bobs_writer = token((await create_token(http, bob_jwt, ["notes:write"]))["token"])
    result = await call(http, DELETE, bobs_writer, id=note["id"])
    assert only_code(result) == "FORBIDDEN"
    assert (await call(http, NOTE, alice_jwt, id=note["id"])).data["note"] == note


async def test_a_read_token_of_another_user_neither_reads_nor_lists_a_note(http, alice_jwt, bob_jwt) -> None:
    note = await create_note(http, alice_jwt)
    bobs_reader = token((await create_token(http, bob_jwt, ["notes:read"]))["token"])
    assert only_code(await call(http, NOTE, bobs_reader, id=note["id"])) == "FORBIDDEN"
    assert (await call(http, NOTES, bobs_reader)).data["notes"] == []


async def test_an_admins_token_needs_notes_read_for_all_notes(http, admin_jwt, alice_jwt) -> None:
    await create_note(http, alice_jwt)
    with_scope = token((await create_token(http, admin_jwt, ["notes:read"]))["token"])
    assert len((await call(http, ALL_NOTES, with_scope)).data["allNotes"]) == 1
    without = token((await create_token(http, admin_jwt, ["users:read"]))["token"])
    assert only_code(await call(http, ALL_NOTES, without)) == "FORBIDDEN"


@pytest.mark.parametrize("document", [NOTES, CREATE], ids=["notes", "createNote"])
async def test_a_token_without_scopes_may_do_nothing_with_notes(http, alice_jwt, document) -> None:
    bare = token((await create_token(http, alice_jwt, []))["token"])
    variables = {"input": {"title": "x"}} if document is CREATE else {}
    result = await call(http, document, bare, **variables)
    assert only_code(result) == "FORBIDDEN"
    assert result.status == 403


async def test_a_revoked_token_is_refused_on_the_very_next_request(http, alice_jwt) -> None:
    await create_note(http, alice_jwt)
    payload = await create_token(http, alice_jwt, ["notes:read", "notes:write"])
    reader = token(payload["token"])
    assert len((await call(http, NOTES, reader)).data["notes"]) == 1

    revoked = await call(http, REVOKE, alice_jwt, id=payload["credential"]["id"])
    assert revoked.data == {"revokeCredential": True}, revoked.body

    listed = await call(http, NOTES, reader)
    assert only_code(listed) == "UNAUTHENTICATED"
    assert listed.status == 401
    created = await call(http, CREATE, reader, input={"title": "after revocation"})
    assert only_code(created) == "UNAUTHENTICATED"
    assert len((await call(http, NOTES, alice_jwt)).data["notes"]) == 1


# ---- the other ways in see the same identity


async def test_basic_auth_and_a_session_cookie_carry_every_scope(http, alice: Persona) -> None:
    by_basic = basic(alice.username, alice.password)
    note = await create_note(http, by_basic, "By Basic")
    session, _ = await cookie_login(http, alice.username)
    http.cookies.clear()
    listed = await call(http, NOTES, {**cookie_header(session), "Origin": "http://testserver"})
    assert listed.data == {"notes": [note]}, listed.body


async def test_without_the_module_the_fields_do_not_exist(clean_backends) -> None:
    application = create_app(make_settings())
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as plain:
            result = await call(plain, NOTES, None)
    assert only_code(result) == "GRAPHQL_VALIDATION_FAILED"


# ---- what a UI may show


CAN = """{ viewer { list: can(field: "Query.notes") write: can(field: "Mutation.createNote")
  all: can(field: "Query.allNotes") } }"""


async def test_viewer_can_answers_for_the_modules_fields(http, alice_jwt, admin_jwt) -> None:
    reader = token((await create_token(http, alice_jwt, ["notes:read"]))["token"])
    answers = {
        "anonymous": (None, {"list": False, "write": False, "all": False}),
        "owner": (alice_jwt, {"list": True, "write": True, "all": False}),
        "read token": (reader, {"list": True, "write": False, "all": False}),
        "admin": (admin_jwt, {"list": True, "write": True, "all": True}),
    }
    for who, (headers, expected) in answers.items():
        result = await call(http, CAN, headers)
        assert result.data == {"viewer": expected}, (who, result.body)
