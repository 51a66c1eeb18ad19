"""A model whose module never made its migrations."""

from tortoise import fields
from tortoise.models import Model


class Draft(Model):
    """A draft."""

    id = fields.IntField(primary_key=True)
