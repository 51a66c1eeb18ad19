"""The projects module's one model: a project owned by a Gatehouse user."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Project(Model):
    """A project, owned by the user who created it."""

    id = fields.UUIDField(primary_key=True)
    # Gatehouse's users are the app `models`; no reverse relation is added to User.
    owner: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "test_projects"
