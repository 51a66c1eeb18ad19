"""The notes services' input rules and pagination: bad input is BAD_USER_INPUT naming
each field (`extensions.fields`), never a 500."""

from __future__ import annotations

import uuid

import pytest

from examples.notes import services
from examples.notes.models import BODY_MAX, TITLE_MAX
from tests.examples.notes.documents import (
    ALL_NOTES,
    CREATE,
    DELETE,
    NOTE,
    NOTES,
    UPDATE,
    call,
    create_note,
    fields_of,
)

UNKNOWN = str(uuid.UUID(int=1))

# ---- the rules, without a database


@pytest.mark.parametrize("title", ["a", "Groceries", "x" * TITLE_MAX, "  padded  ", "Café ☕ 日本"])
def test_titles_that_are_kept(title: str) -> None:
    assert services.title_problem(title) is None


@pytest.mark.parametrize(
    "title",
    [
        "",
        "   ",
        "x" * (TITLE_MAX + 1),
        "two\nlines",
        "line\u2028separator",
        "tab\there",
        "nul\x00",
        "bell\x07",
        "lone \ud800",
    ],
    ids=["empty", "blank", "too-long", "newline", "separator", "tab", "nul", "control", "surrogate"],
)
def test_titles_that_are_refused(title: str) -> None:
    assert services.title_problem(title) is not None


@pytest.mark.parametrize("body", ["", "one line", "lines\nand\r\nbreaks\tand tabs", "x" * BODY_MAX])
def test_bodies_that_are_kept(body: str) -> None:
    assert services.body_problem(body) is None


@pytest.mark.parametrize(
    "body",
    ["x" * (BODY_MAX + 1), "nul\x00", "escape\x1b[2J", "del\x7f", "lone \udfff"],
    ids=["too-long", "nul", "escape", "delete", "surrogate"],
)
def test_bodies_that_are_refused(body: str) -> None:
    assert services.body_problem(body) is not None


# ---- through the API: every refusal names its field


@pytest.mark.parametrize(
    ("note_input", "fields"),
    [
        ({"title": ""}, {"title"}),
        ({"title": "   "}, {"title"}),
        ({"title": "x" * (TITLE_MAX + 1)}, {"title"}),
        ({"title": "ok", "body": "x" * (BODY_MAX + 1)}, {"body"}),
        ({"title": "", "body": "x" * (BODY_MAX + 1)}, {"title", "body"}),
        ({"title": "bell\x07"}, {"title"}),
    ],
    ids=["empty-title", "blank-title", "long-title", "long-body", "both", "control"],
)
async def test_create_refuses_bad_input_naming_the_fields(http, alice_jwt, note_input, fields) -> None:
    result = await call(http, CREATE, alice_jwt, input=note_input)
    assert result.status == 200
    assert result.data is None
    assert set(fields_of(result)) == fields
    assert (await call(http, NOTES, alice_jwt)).data["notes"] == []


async def test_update_refuses_bad_input_and_keeps_the_note(http, alice_jwt) -> None:
    note = await create_note(http, alice_jwt)
    result = await call(http, UPDATE, alice_jwt, id=note["id"], input={"title": "", "body": "ok"})
    assert fields_of(result) == {
        "title": f"Use 1 to {TITLE_MAX} characters on one line (no control characters)."
    }
    assert (await call(http, NOTE, alice_jwt, id=note["id"])).data["note"] == note


@pytest.mark.parametrize(
    "note_id", [UNKNOWN, "not-a-uuid", "", "1" * 500], ids=["unknown", "malformed", "empty", "long"]
)
@pytest.mark.parametrize(
    ("document", "extra"),
    [(NOTE, {}), (UPDATE, {"input": {"title": "x"}}), (DELETE, {})],
    ids=["note", "updateNote", "deleteNote"],
)
async def test_an_unknown_or_malformed_id_is_bad_user_input(
    http, alice_jwt, document, extra, note_id
) -> None:
    result = await call(http, document, alice_jwt, id=note_id, **extra)
    assert result.status == 200, result.body
    assert fields_of(result) == {"id": "No such note."}


@pytest.mark.parametrize("first", [0, -1, 101, 2**31 - 1])
async def test_a_page_size_out_of_range_is_bad_user_input(http, alice_jwt, first) -> None:
    result = await call(http, NOTES, alice_jwt, first=first)
    assert fields_of(result) == {"first": "Use 1 to 100."}


@pytest.mark.parametrize("after", [UNKNOWN, "garbage"])
async def test_an_unknown_cursor_is_bad_user_input(http, alice_jwt, after) -> None:
    result = await call(http, NOTES, alice_jwt, after=after)
    assert fields_of(result) == {"after": "No such note."}


async def test_a_malformed_owner_filter_is_bad_user_input(http, admin_jwt) -> None:
    result = await call(http, ALL_NOTES, admin_jwt, ownerId="nobody")
    assert fields_of(result) == {"ownerId": "No such user."}


async def test_an_unknown_owner_has_no_notes(http, admin_jwt, alice_jwt) -> None:
    await create_note(http, alice_jwt)
    result = await call(http, ALL_NOTES, admin_jwt, ownerId=UNKNOWN)
    assert result.data == {"allNotes": []}, result.body


# ---- pagination


async def test_pages_follow_creation_order_and_the_after_cursor(http, alice_jwt) -> None:
    made = [await create_note(http, alice_jwt, f"note {n}") for n in range(5)]
    first = (await call(http, NOTES, alice_jwt, first=2)).data["notes"]
    assert [n["id"] for n in first] == [made[0]["id"], made[1]["id"]]
    second = (await call(http, NOTES, alice_jwt, first=2, after=first[-1]["id"])).data["notes"]
    assert [n["id"] for n in second] == [made[2]["id"], made[3]["id"]]
    last = (await call(http, NOTES, alice_jwt, first=2, after=second[-1]["id"])).data["notes"]
    assert [n["id"] for n in last] == [made[4]["id"]]
    assert (await call(http, NOTES, alice_jwt, after=last[-1]["id"])).data["notes"] == []


async def test_the_default_page_holds_twenty(http, alice_jwt) -> None:
    for n in range(services.DEFAULT_PAGE + 1):
        await create_note(http, alice_jwt, f"note {n}")
    assert len((await call(http, NOTES, alice_jwt)).data["notes"]) == services.DEFAULT_PAGE
    assert len((await call(http, NOTES, alice_jwt, first=100)).data["notes"]) == services.DEFAULT_PAGE + 1
