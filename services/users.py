"""Reading users: one by id, and pages of all of them in a stable order."""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from tortoise import connections
from tortoise.expressions import Q, RawSQL

from core.errors import BadUserInput
from models import User

MAX_PAGE = 100
MAX_CURSOR = 200  # characters; the cursors `users_page` hands out are 32 (those before, about 100)
COMPACT_CURSOR = 32  # characters of an `encode_cursor` cursor
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
PAGE_COLUMNS = ("id", "username", "email", "email_verified_at", "roles", "created_at")  # `schema.types.User`


async def find_user(user_id: str) -> User | None:
    """The user with this id, or `None` (an id that is no UUID names no one)."""
    try:
        parsed = uuid.UUID(user_id)
    except ValueError:
        return None
    return await User.filter(id=parsed).first()


def encode_cursor(row: User | ListedUser) -> str:
    """The cursor that points just past `row` in the `users_page` order: its created_at as
    microseconds since 1970 (8 bytes, big-endian) and its id (16 bytes), base64url, 32
    characters (a third the length, and cost, of the time in ISO form and the id as text)."""
    micros = (row.created_at - EPOCH) // MICROSECOND
    return base64.urlsafe_b64encode(micros.to_bytes(8, "big", signed=True) + row.id.bytes).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) of a cursor made by `encode_cursor` (or of the longer form it
    made before); `BadUserInput` on `after` for anything else.

    Only UTC times are accepted, as issued: another offset can move a time that parses
    past the year 1 or 9999 in UTC, which the drivers cannot encode (a 500 on PostgreSQL).
    """
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("longer than any cursor handed out")
        raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
        if len(cursor) == COMPACT_CURSOR:
            if len(raw) != 24:
                raise ValueError("not a cursor's 24 bytes")
            micros = int.from_bytes(raw[:8], "big", signed=True)
            return EPOCH + timedelta(microseconds=micros), uuid.UUID(bytes=raw[8:])
        # The form handed out before issue 16, still taken: a client paging through a
        # deployment keeps its place. "ISO time|id".
        created, _, row_id = raw.decode().partition("|")
        moment = datetime.fromisoformat(created)
        if moment.utcoffset() != timedelta(0):
            raise ValueError("cursors carry UTC times")  # naive ones cannot be compared either
        return moment, uuid.UUID(row_id)
    except (binascii.Error, ValueError, OverflowError):  # Unicode errors are ValueErrors
        raise BadUserInput({"after": "Invalid cursor."}) from None


class ListedUser(NamedTuple):
    """The columns of a user that a page shows (`PAGE_COLUMNS`, in that order): a tuple,
    made 20 times a page at a fraction of a frozen dataclass's cost."""

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
    total: int  # how many users there are in all


async def users_page(first: int | None, after: str | None) -> UserPage:
    """Up to `first` (1 to 100, 20 by default) users after the cursor `after`, oldest
    first, keyset-paginated on (created_at, id), and how many users there are in all."""
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
    # On PostgreSQL the page's own statement read the count (O(1), models/user_count.py);
    # an empty page read no row to carry it, and SQLite counts.
    total = int(found[0][len(PAGE_COLUMNS)]) if found and dialect == "postgres" else await count_users()
    rows = [*map(_row_reader(dialect), found[:size])]
    return UserPage([(encode_cursor(r), r) for r in rows], len(found) > size, total)


@functools.cache
def _page_sql(dialect: str, after: bool) -> str:
    """The page's one statement, as Tortoise writes it for `dialect` (the running app's
    connection's), built once: Tortoise's query builder cost more per request than the rest
    of the read (issue 16). Its placeholders: the cursor's time twice, its id, the limit;
    the limit alone without a cursor. On PostgreSQL each row also carries the count of
    users, after `PAGE_COLUMNS`."""
    query = User.all()
    if after:
        # (created_at, id) > (created, row_id), spelled so that the leading bound is a range
        # on the index's first column: the scan starts at the cursor and stops after a page.
        moment, row_id = datetime.min.replace(tzinfo=UTC), uuid.UUID(int=0)
        query = query.filter(Q(created_at__gte=moment), Q(created_at__gt=moment) | Q(id__gt=row_id))
    columns: tuple[str, ...] = PAGE_COLUMNS
    if dialect == "postgres":  # and the count (models/user_count.py): no second round trip
        query = query.annotate(total=RawSQL('(SELECT "total" FROM "user_count")'))
        columns += ("total",)
    # The columns a page shows as tuples: no model built per row, no hash read.
    return query.order_by("created_at", "id").limit(MAX_PAGE + 1).values_list(*columns).sql()


@functools.cache
def _row_reader(dialect: str) -> Callable[[Sequence[Any]], ListedUser]:
    """A row of `_page_sql` as a `ListedUser`, the columns turned into Python as Tortoise's
    `values_list` turns them: as they are where the dialect's driver already gives the
    Python type, else by the field's `to_python_value` (JSON text to a list, SQLite's text
    to times and UUIDs); a time the driver gives in UTC already is taken as it is."""
    native = {name for _, name, _ in User._meta.db_native_fields}
    fields = User._meta.fields_map
    converted = [
        (index, _utc_or(fields[name].to_python_value))
        for index, name in enumerate(PAGE_COLUMNS)
        if name not in native
    ]
    width = len(PAGE_COLUMNS)

    def read(row: Sequence[Any]) -> ListedUser:
        values = list(row[:width])
        for index, to_python in converted:
            values[index] = to_python(values[index])
        return ListedUser(*values)

    return read


def _utc_or(to_python: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`to_python`, except for a time in UTC already (asyncpg's `timestamptz`): Tortoise
    would only convert it to the same instant in UTC."""

    def read(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is UTC:
            return value
        return to_python(value)

    return read


async def count_users() -> int:
    """How many accounts there are (`UserConnection.totalCount`), exact. On PostgreSQL in
    O(1) at any size: the one row that the database's triggers on `users` keep equal to
    `count(*)` (models/user_count.py); SQLite counts."""
    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        return await User.all().count()
    _, rows = await connection.execute_query('SELECT "total" FROM "user_count"')
    return int(rows[0][0])
