"""The example's one table: notes, each owned by the user who wrote it."""

from __future__ import annotations

from uuid import UUID

from tortoise import fields
from tortoise.models import Model

TITLE_MAX = 200  # characters
BODY_MAX = 10_000  # characters


class Note(Model):
    """A note written by a user. Only its author and admins may read it."""

    id = fields.UUIDField(primary_key=True)
    # "models.User" is Gatehouse's account model (app label "models"). No reverse relation:
    # a module adds nothing to Gatehouse's own models.
    owner: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    owner_id: UUID  # the column behind `owner`, set by Tortoise
    title = fields.CharField(max_length=TITLE_MAX)
    body = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "notes"
        # Listing reads one owner's notes in (created_at, id) order.
        indexes = (("owner_id", "created_at", "id"),)
