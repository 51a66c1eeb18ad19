"""Thin resolvers: read the identity, call a service, wrap the row.

Who may do what is declared on the fields (`examples/notes/schema.py`); the only rule
written here is the object check of a mutation, which must run before the write:
`IsOwnerOrHasRole` on a root field judges the value the resolver returned, by which
time an update or a delete would already be done. The mutations' permission says so
(`judged_before_write=True`); without it start-up refuses the schema.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import IsOwnerOrHasRole, identity_of
from examples.notes import services
from examples.notes.types import Note, NoteInput, NotePatch

ADMIN = "admin"
# Notes are read, changed and deleted by their author or by an admin.
OWNER_OR_ADMIN = IsOwnerOrHasRole(ADMIN)
# The same rule on the mutations, which judge the note themselves before they write.
OWNER_OR_ADMIN_BEFORE_WRITE = IsOwnerOrHasRole(ADMIN, judged_before_write=True)


def _caller_id(info: Info) -> str:
    """The signed-in caller's user id (every field here requires a signed-in caller)."""
    user_id = identity_of(info).user_id
    assert user_id is not None, "the field's permissions admit signed-in callers only"
    return user_id


async def note(info: Info, id: strawberry.ID) -> Note:
    """One note by id; `IsOwnerOrHasRole` on the field refuses another's note."""
    return Note.from_row(await services.find_note(id))


async def notes(info: Info, first: int | None = 20, after: strawberry.ID | None = None) -> list[Note]:
    """The caller's own notes, oldest first."""
    rows = await services.notes_page(_caller_id(info), first, after)
    return [Note.from_row(row) for row in rows]


async def all_notes(
    info: Info,
    first: int | None = 20,
    after: strawberry.ID | None = None,
    owner_id: strawberry.ID | None = None,
) -> list[Note]:
    """Everyone's notes (or one owner's), oldest first: for admins."""
    rows = await services.notes_page(owner_id, first, after)
    return [Note.from_row(row) for row in rows]


async def create_note(info: Info, input: NoteInput) -> Note:
    """A new note owned by the caller."""
    return Note.from_row(await services.create_note(_caller_id(info), input.title, input.body))


async def update_note(info: Info, id: strawberry.ID, input: NotePatch) -> Note:
    """Change a note of the caller's (or, for an admin, anyone's)."""
    row = await services.find_note(id)
    OWNER_OR_ADMIN_BEFORE_WRITE.judge(identity_of(info), row, is_list=False)
    return Note.from_row(await services.update_note(row, input.title, input.body))


async def delete_note(info: Info, id: strawberry.ID) -> Note:
    """Delete a note of the caller's (or, for an admin, anyone's); returns it as it was."""
    row = await services.find_note(id)
    OWNER_OR_ADMIN_BEFORE_WRITE.judge(identity_of(info), row, is_list=False)
    deleted = Note.from_row(row)
    await services.delete_note(row)
    return deleted
