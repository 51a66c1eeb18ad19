from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_users_created_at_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ExternalLoginFlow',
            name='credential',
            field=fields.ForeignKeyField('models.Credential', source_field='credential_id', null=True, db_constraint=True, to_field='id', related_name='link_flows', on_delete=OnDelete.SET_NULL),
        ),
    ]
