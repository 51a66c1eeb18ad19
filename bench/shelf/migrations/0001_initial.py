from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]  # where users is created

    initial = True

    operations = [
        ops.CreateModel(
            name="ShelfItem",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "owner",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="owner_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("title", fields.CharField(max_length=100)),
                ("position", fields.IntField()),
            ],
            options={
                "table": "bench_shelf_items",
                "app": "bench_shelf",
                "indexes": [Index(fields=["owner_id", "position"])],
                "pk_attr": "id",
                "table_description": "An item on a user's shelf.",
            },
            bases=["Model"],
        ),
    ]
