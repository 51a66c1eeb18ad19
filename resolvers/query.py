"""Query resolvers."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.context import Context
from schema.types import Credential, PageInfo, User, UserConnection, UserEdge, Viewer
from services import credentials
from services import users as user_service


def viewer(info: Info[Context, None]) -> Viewer:
    """What the caller could use; anonymous callers get an answer too."""
    return Viewer()


def me(info: Info[Context, None]) -> User | None:
    """The caller, or null when anonymous."""
    user = info.context.identity.user
    return User.from_row(user) if user is not None else None


async def user(info: Info[Context, None], id: strawberry.ID) -> User | None:
    """A user by id, or null."""
    row = await user_service.find_user(id)
    return User.from_row(row) if row is not None else None


async def users(
    info: Info[Context, None], first: int | None = 20, after: str | None = strawberry.UNSET
) -> UserConnection:
    """A page of users, oldest first, keyset-paginated on (created_at, id)."""
    page = await user_service.users_page(first, after or None)
    edges = [UserEdge(cursor=cursor, node=User.from_row(row)) for cursor, row in page.rows]
    return UserConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None),
        total_count=page.total,
    )


async def my_credentials(info: Info[Context, None]) -> list[Credential]:
    """The caller's live sessions, refresh-token families and API tokens."""
    identity = info.context.identity
    assert identity.user_id is not None
    rows = await credentials.list_live(identity.user_id)
    return [Credential.from_row(r, identity.credential_id) for r in rows]
