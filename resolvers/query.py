"""Query resolvers."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta

import strawberry
from strawberry.types import Info
from tortoise.expressions import Q

from core.errors import BadUserInput
from models import User as UserRow
from schema.context import Context
from schema.types import Credential, PageInfo, User, UserConnection, UserEdge
from services import credentials

MAX_PAGE = 100


def me(info: Info[Context, None]) -> User | None:
    """The caller, or null when anonymous."""
    user = info.context.identity.user
    return User.from_row(user) if user is not None else None


async def user(info: Info[Context, None], id: strawberry.ID) -> User | None:
    """A user by id, or null."""
    try:
        parsed = uuid.UUID(id)
    except ValueError:
        return None
    row = await UserRow.filter(id=parsed).first()
    return User.from_row(row) if row is not None else None


MAX_CURSOR = 200  # characters; the cursors `users` hands out are about 100


def _encode_cursor(row: UserRow) -> str:
    moment = row.created_at.astimezone(UTC)
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{row.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) of a cursor made by `_encode_cursor`; `BadUserInput` on `after`
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


async def users(
    info: Info[Context, None], first: int | None = 20, after: str | None = strawberry.UNSET
) -> UserConnection:
    """A page of users, oldest first, keyset-paginated on (created_at, id)."""
    size = 20 if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise BadUserInput({"first": f"Use 1 to {MAX_PAGE}."})
    query = UserRow.all()
    if after:
        created, row_id = decode_cursor(after)
        query = query.filter(Q(created_at__gt=created) | Q(created_at=created, id__gt=row_id))
    rows = await query.order_by("created_at", "id").limit(size + 1)
    page = rows[:size]
    edges = [UserEdge(cursor=_encode_cursor(r), node=User.from_row(r)) for r in page]
    return UserConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None),
    )


async def my_credentials(info: Info[Context, None]) -> list[Credential]:
    """The caller's live sessions, refresh-token families and API tokens."""
    identity = info.context.identity
    assert identity.user_id is not None
    rows = await credentials.list_live(identity.user_id)
    return [Credential.from_row(r, identity.credential_id) for r in rows]
