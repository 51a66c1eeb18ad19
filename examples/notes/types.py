"""The example's GraphQL types. They wrap the services' rows; resolvers stay thin."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

if TYPE_CHECKING:
    from examples.notes.models import Note as NoteRow


@strawberry.type(description="A note. Only its author and admins may read it.")
class Note:
    id: strawberry.ID
    title: str
    body: str
    # The author's user id. `IsOwnerOrHasRole` reads this attribute (`owner_field`) of
    # the value a field returns.
    owner_id: strawberry.ID
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: NoteRow) -> Note:
        """Wrap a model row."""
        return cls(
            id=strawberry.ID(str(row.id)),
            title=row.title,
            body=row.body,
            owner_id=strawberry.ID(str(row.owner_id)),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.input(description="A new note.")
class NoteInput:
    title: str = strawberry.field(description="1 to 200 characters on one line.")
    body: str = strawberry.field(default="", description="At most 10,000 characters.")


@strawberry.input(description="What to change in a note; a field left out (or null) stays as it is.")
class NotePatch:
    title: str | None = None
    body: str | None = None
