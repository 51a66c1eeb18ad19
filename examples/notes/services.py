"""Notes: the only code of the example that touches the ORM.

Services know nothing of GraphQL or of who may do what: the resolvers' permissions
decide that (auth.permissions). They validate input and raise `BadUserInput` naming each
field, as Gatehouse's own services do, so that bad input is never a 500.
"""

from __future__ import annotations

import re
import uuid

from tortoise.expressions import Q

from core.errors import BadUserInput
from examples.notes.models import BODY_MAX, TITLE_MAX, Note

MAX_PAGE = 100
DEFAULT_PAGE = 20
NO_SUCH_NOTE = "No such note."
NO_SUCH_USER = "No such user."
# Control characters (tab, newline and carriage return aside, which a body may hold) and
# lone surrogates: no note needs them, and the database drivers fail on some (a 500). A
# title is one line: no line or paragraph separator either.
_UNSAFE_IN_BODY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSAFE_IN_TITLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def title_problem(title: str) -> str | None:
    """Why `title` cannot be a note's title, or `None`: 1 to 200 characters once
    trimmed, on one line, without control characters."""
    stripped = title.strip()
    if not 1 <= len(stripped) <= TITLE_MAX or _UNSAFE_IN_TITLE.search(stripped):
        return f"Use 1 to {TITLE_MAX} characters on one line (no control characters)."
    return None


def body_problem(body: str) -> str | None:
    """Why `body` cannot be a note's body, or `None`: at most 10,000 characters, without
    control characters other than tabs and line breaks."""
    if len(body) > BODY_MAX:
        return f"Use at most {BODY_MAX} characters."
    if _UNSAFE_IN_BODY.search(body):
        return "Remove the control characters (tabs and line breaks are fine)."
    return None


def _check(title: str | None, body: str | None) -> None:
    """Every problem of the given fields at once, as one `BadUserInput`."""
    problems: dict[str, str] = {}
    if title is not None and (message := title_problem(title)):
        problems["title"] = message
    if body is not None and (message := body_problem(body)):
        problems["body"] = message
    if problems:
        raise BadUserInput(problems)


def _parse_id(value: str, field: str, message: str = NO_SUCH_NOTE) -> uuid.UUID:
    """The UUID `value` spells; `BadUserInput` on `field` when it spells none."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        raise BadUserInput({field: message}) from None


async def find_note(note_id: str, field: str = "id") -> Note:
    """The note with this id; `BadUserInput` on `field` when the id is malformed or
    names no note. Whether the caller may see it is the permission's decision."""
    note = await Note.filter(id=_parse_id(note_id, field)).first()
    if note is None:
        raise BadUserInput({field: NO_SUCH_NOTE})
    return note


async def create_note(owner_id: str, title: str, body: str) -> Note:
    """A new note of `owner_id` (the caller's user id), its title trimmed."""
    _check(title, body)
    return await Note.create(owner_id=uuid.UUID(owner_id), title=title.strip(), body=body)


async def update_note(note: Note, title: str | None, body: str | None) -> Note:
    """`note` with the given fields replaced (`None` keeps a field as it is)."""
    _check(title, body)
    changed: list[str] = []
    if title is not None:
        note.title = title.strip()
        changed.append("title")
    if body is not None:
        note.body = body
        changed.append("body")
    if changed:
        await note.save(update_fields=[*changed, "updated_at"])
    return note


async def delete_note(note: Note) -> None:
    """Delete `note`."""
    await note.delete()


async def notes_page(owner_id: str | None, first: int | None, after: str | None) -> list[Note]:
    """Up to `first` notes (1 to 100, 20 by default), oldest first, that come after the note
    `after` in (created_at, id) order: the notes of `owner_id`, or everyone's for `None`.

    `after` is the id of the last note of the previous page and must be one of the notes
    listed (another owner's note is "no such note" in an owner's list). A malformed
    `owner_id` (an admin's filter) is `BadUserInput` on `ownerId`.
    """
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise BadUserInput({"first": f"Use 1 to {MAX_PAGE}."})
    query = Note.all()
    if owner_id is not None:
        query = query.filter(owner_id=_parse_id(owner_id, "ownerId", NO_SUCH_USER))
    if after:
        anchor = await query.filter(id=_parse_id(after, "after")).first()
        if anchor is None:
            raise BadUserInput({"after": NO_SUCH_NOTE})
        query = query.filter(
            Q(created_at__gt=anchor.created_at) | Q(created_at=anchor.created_at, id__gt=anchor.id)
        )
    return await query.order_by("created_at", "id").limit(size)
