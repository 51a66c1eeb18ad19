"""The bench module's root field: the caller's shelf, judged item by item."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import HasScope, IsOwnerOrHasRole, gated
from bench.shelf import services

READ = "shelf:read"


@strawberry.type(description="An item on a shelf; only its owner and admins see it.")
class ShelfItem:
    id: strawberry.ID
    title: str
    position: int
    # Read by `IsOwnerOrHasRole` (its `owner_field`) on every item the field returns.
    owner_id: strawberry.Private[str]


async def read_shelf(info: Info) -> list[ShelfItem]:
    """The caller's shelf (thin: the service reads it, the permission judges each item)."""
    rows = await services.shelf_of(info.context.identity.user_id)
    return [
        ShelfItem(id=strawberry.ID(str(r.id)), title=r.title, position=r.position, owner_id=str(r.owner_id))
        for r in rows
    ]


@strawberry.type
class Query:
    shelf: list[ShelfItem] = strawberry.field(
        resolver=read_shelf,
        # The object-level check runs on each of the (up to) 100 items returned.
        extensions=gated(HasScope(READ), IsOwnerOrHasRole("admin")),
        description="The caller's first 100 shelf items.",
    )
    shelf_unjudged: list[ShelfItem] = strawberry.field(
        resolver=read_shelf,
        # The same list without the object-level check: the bench's baseline for it.
        extensions=gated(HasScope(READ)),
        description="The caller's first 100 shelf items, without the object-level check.",
    )
