"""The bench module's one table: items, each owned by a user."""

from __future__ import annotations

from uuid import UUID

from tortoise import fields
from tortoise.models import Model


class ShelfItem(Model):
    """An item on a user's shelf."""

    id = fields.UUIDField(primary_key=True)
    owner: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    owner_id: UUID  # the column behind `owner`, set by Tortoise
    title = fields.CharField(max_length=100)
    position = fields.IntField()

    class Meta:
        table = "bench_shelf_items"
        indexes = (("owner_id", "position"),)
