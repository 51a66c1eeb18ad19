from tortoise import migrations
from tortoise.migrations import operations as ops
from models.credentials import CredentialKind
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class AlterColumnDescription(ops.AlterField):
    """An AlterField that changes nothing but the column's description: the comment on
    PostgreSQL. SQLite keeps no comments, and Tortoise's SQLite editor would remake the
    table for it, whose DROP cascades into the rows that reference it (every refresh
    token of every family): there the state moves on and the table is left alone."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.DIALECT == "sqlite":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.DIALECT == "sqlite":
            return
        await super().database_backward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('models', '0004_account_tokens')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExternalIdentity',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('credential', fields.OneToOneField('models.Credential', source_field='credential_id', db_constraint=True, to_field='id', related_name='external_identity', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='external_identities', on_delete=OnDelete.CASCADE)),
                ('provider', fields.CharField(max_length=64)),
                ('issuer', fields.CharField(max_length=255)),
                ('subject', fields.CharField(max_length=255)),
                ('email', fields.CharField(null=True, max_length=320)),
                ('created_account', fields.BooleanField(default=False)),
                ('tokens_not_before', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'external_identities', 'app': 'models', 'unique_together': (('issuer', 'subject'),), 'pk_attr': 'id', 'table_description': 'A provider account (issuer, subject) linked to a local user'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExternalLoginFlow',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('provider', fields.CharField(max_length=64)),
                ('purpose', fields.CharField(max_length=8)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='external_login_flows', on_delete=OnDelete.CASCADE)),
                ('nonce', fields.CharField(max_length=128)),
                ('code_verifier', fields.CharField(max_length=128)),
                ('redirect_uri', fields.CharField(max_length=2048)),
                ('redirect_to', fields.CharField(null=True, max_length=2048)),
                ('binding_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'external_login_flows', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One browser sign-in or link begun at a provider and not finished yet: single use, expiring'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SpentIdToken',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'spent_id_tokens', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An ID token already used by loginWithIdToken, kept until it expires so it is used once'},
            bases=['Model'],
        ),
        # The kind gains EXTERNAL: same column (varchar 16), a new description only.
        AlterColumnDescription(
            model_name='Credential',
            name='kind',
            field=fields.CharEnumField(description='SESSION: SESSION\nREFRESH: REFRESH\nAPI_TOKEN: API_TOKEN\nEXTERNAL: EXTERNAL', enum_type=CredentialKind, max_length=16),
        ),
    ]
