from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    # Gatehouse's users table comes from models.0001 (Tortoise wrote its newest migration).
    dependencies = [('models', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Project',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'test_projects', 'app': 'tests_helpers_modules_projects', 'pk_attr': 'id', 'table_description': 'A project, owned by the user who created it.'},
            bases=['Model'],
        ),
    ]
