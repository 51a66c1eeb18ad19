"""The example's root types: what `SCHEMA_MODULES=examples.notes` merges into Gatehouse's.

Every root field carries its permissions (`extensions=gated(...)`); a field with none
would stop start-up (deny by default) unless declared `metadata={"public": True}`. The
mutations' object check is `judged_before_write` (their resolvers judge the note before
they write); start-up refuses `IsOwnerOrHasRole` on a mutation without it.
"""

from __future__ import annotations

import strawberry

from auth.permissions import HasRole, HasScope, gated
from examples.notes import resolvers
from examples.notes.resolvers import ADMIN, OWNER_OR_ADMIN, OWNER_OR_ADMIN_BEFORE_WRITE
from examples.notes.types import Note

READ = "notes:read"
WRITE = "notes:write"


@strawberry.type
class Query:
    note: Note = strawberry.field(
        resolver=resolvers.note,
        extensions=gated(HasScope(READ), OWNER_OR_ADMIN),
        description="A note by id: its author's, or any for an admin.",
    )
    notes: list[Note] = strawberry.field(
        resolver=resolvers.notes,
        # The list holds the caller's own notes only; the object check is the guard that
        # would leave out any other (and admins see everything anyway).
        extensions=gated(HasScope(READ), OWNER_OR_ADMIN),
        description="The caller's own notes, oldest first; `first` 1 to 100, `after` the id of the "
        "last note of the previous page.",
    )
    all_notes: list[Note] = strawberry.field(
        resolver=resolvers.all_notes,
        extensions=gated(HasRole(ADMIN), HasScope(READ)),
        description="Everyone's notes, or those of `ownerId`, oldest first; paginated as `notes`.",
    )


@strawberry.type
class Mutation:
    create_note: Note = strawberry.mutation(
        resolver=resolvers.create_note,
        extensions=gated(HasScope(WRITE)),
        description="A new note owned by the caller.",
    )
    update_note: Note = strawberry.mutation(
        resolver=resolvers.update_note,
        extensions=gated(HasScope(WRITE), OWNER_OR_ADMIN_BEFORE_WRITE),
        description="Change a note: its author, or an admin.",
    )
    delete_note: Note = strawberry.mutation(
        resolver=resolvers.delete_note,
        extensions=gated(HasScope(WRITE), OWNER_OR_ADMIN_BEFORE_WRITE),
        description="Delete a note: its author, or an admin. Answers the note as it was.",
    )
