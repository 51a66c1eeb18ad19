"""Reading users: one by id, and pages of all of them in a stable order."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from core.errors import BadUserInput
from models import User

MAX_PAGE = 100
MAX_CURSOR = 200  # characters; the cursors `users_page` hands out are about 100
PAGE_COLUMNS = ("id", "username", "email", "email_verified_at", "roles", "created_at")  # `schema.types.User`


async def find_user(user_id: str) -> User | None:
    """The user with this id, or `None` (an id that is no UUID names no one)."""
    try:
        parsed = uuid.UUID(user_id)
    except ValueError:
        return None
    return await User.filter(id=parsed).first()


def encode_cursor(row: User | ListedUser) -> str:
    """The cursor that points just past `row` in the `users_page` order."""
    moment = row.created_at.astimezone(UTC)
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{row.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) of a cursor made by `encode_cursor`; `BadUserInput` on `after`
    for anything else.

    Only UTC times are accepted, as issued: another offset can move a time that parses
    past the year 1 or 9999 in UTC, which the drivers cannot encode (a 500 on PostgreSQL).
    """
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("longer than any cursor handed out")
        created, _, row_id = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().partition("|")
        moment = datetime.fromisoformat(created)
        if moment.utcoffset() != timedelta(0):
            raise ValueError("cursors carry UTC times")  # naive ones cannot be compared either
        return moment, uuid.UUID(row_id)
    except (binascii.Error, ValueError, OverflowError):  # Unicode errors are ValueErrors
        raise BadUserInput({"after": "Invalid cursor."}) from None


@dataclass(frozen=True, slots=True)
class ListedUser:
    """The columns of a user that a page shows (`PAGE_COLUMNS`, in that order)."""

    id: uuid.UUID
    username: str
    email: str
    email_verified_at: datetime | None
    roles: list[str]
    created_at: datetime


@dataclass(frozen=True)
class UserPage:
    """A page of users with the cursor of each, and whether more follow."""

    rows: list[tuple[str, ListedUser]]
    has_next_page: bool


async def users_page(first: int | None, after: str | None) -> UserPage:
    """Up to `first` (1 to 100, 20 by default) users after the cursor `after`, oldest
    first, keyset-paginated on (created_at, id)."""
    size = 20 if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise BadUserInput({"first": f"Use 1 to {MAX_PAGE}."})
    query = User.all()
    if after:
        created, row_id = decode_cursor(after)
        # (created_at, id) > (created, row_id), spelled so that the leading bound is a range
        # on the index's first column: the scan starts at the cursor and stops after a page.
        query = query.filter(Q(created_at__gte=created), Q(created_at__gt=created) | Q(id__gt=row_id))
    # The columns a page shows as tuples: no model built per row, no hash read, two
    # timestamps fewer parsed (a third of the page's cost on PostgreSQL).
    found = await query.order_by("created_at", "id").limit(size + 1).values_list(*PAGE_COLUMNS)
    rows = [ListedUser(*values) for values in found[:size]]
    return UserPage([(encode_cursor(r), r) for r in rows], len(found) > size)


async def count_users() -> int:
    """How many accounts there are (`UserConnection.totalCount`)."""
    return await User.all().count()
