"""Reading users: one by id, and pages of all of them in a stable order."""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections
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
    connection = connections.get("default")
    params: list[object] = [size + 1]
    if after:
        created, row_id = decode_cursor(after)
        # In the order of `_page_sql`'s placeholders; the id as Tortoise binds a UUID field.
        params = [created, created, str(row_id), size + 1]
    dialect = connection.capabilities.dialect
    _, found = await connection.execute_query(_page_sql(dialect, bool(after)), params)
    readers = _column_readers(dialect)
    rows = [ListedUser(*(read(v) for read, v in zip(readers, row, strict=True))) for row in found[:size]]
    return UserPage([(encode_cursor(r), r) for r in rows], len(found) > size)


@functools.cache
def _page_sql(dialect: str, after: bool) -> str:
    """The page's one statement, as Tortoise writes it for `dialect` (the running app's
    connection's), built once: Tortoise's query builder cost more per request than the rest
    of the read (issue 16). Its placeholders: the cursor's time twice, its id, the limit;
    the limit alone without a cursor."""
    query = User.all()
    if after:
        # (created_at, id) > (created, row_id), spelled so that the leading bound is a range
        # on the index's first column: the scan starts at the cursor and stops after a page.
        moment, row_id = datetime.min.replace(tzinfo=UTC), uuid.UUID(int=0)
        query = query.filter(Q(created_at__gte=moment), Q(created_at__gt=moment) | Q(id__gt=row_id))
    # The columns a page shows as tuples: no model built per row, no hash read.
    return query.order_by("created_at", "id").limit(MAX_PAGE + 1).values_list(*PAGE_COLUMNS).sql()


@functools.cache
def _column_readers(dialect: str) -> list[Callable[[Any], Any]]:
    """How Tortoise turns each of `PAGE_COLUMNS` into Python (as `values_list` does): as
    is where the dialect's driver already gives the Python type, else the field's
    `to_python_value` (JSON text to a list, SQLite's text to times and UUIDs)."""
    native = {name for _, name, _ in User._meta.db_native_fields}
    fields = User._meta.fields_map
    return [_as_is if name in native else fields[name].to_python_value for name in PAGE_COLUMNS]


def _as_is(value: Any) -> Any:
    return value


async def count_users() -> int:
    """How many accounts there are (`UserConnection.totalCount`), exact. On PostgreSQL in
    O(1) at any size: the one row that the database's triggers on `users` keep equal to
    `count(*)` (models/user_count.py); SQLite counts."""
    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        return await User.all().count()
    _, rows = await connection.execute_query('SELECT "total" FROM "user_count"')
    return int(rows[0][0])
