"""The bench module's ORM access (only services touch the ORM)."""

from __future__ import annotations

import uuid

from bench.shelf.models import ShelfItem

SHELF_SIZE = 100


async def shelf_of(owner_id: str | None) -> list[ShelfItem]:
    """The first 100 items of `owner_id`'s shelf, by position (none for anonymous)."""
    if owner_id is None:
        return []
    return await ShelfItem.filter(owner_id=uuid.UUID(owner_id)).order_by("position").limit(SHELF_SIZE)


async def fill_shelf(owner_id: str, count: int) -> None:
    """Put `count` items on `owner_id`'s shelf (the bench's seed)."""
    owner = uuid.UUID(owner_id)
    await ShelfItem.bulk_create(
        [ShelfItem(owner_id=owner, title=f"item {index:03d}", position=index) for index in range(count)]
    )
