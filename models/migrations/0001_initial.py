from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.credentials import CredentialKind
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('username', fields.CharField(max_length=32)),
                ('username_key', fields.CharField(unique=True, max_length=32)),
                ('email', fields.CharField(max_length=320)),
                ('email_key', fields.CharField(unique=True, max_length=320)),
                ('password_hash', fields.CharField(max_length=128)),
                ('is_active', fields.BooleanField(default=True)),
                ('roles', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('password_changed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'users', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An account. Username and email are unique on their lower-cased form.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Credential',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='credentials', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='SESSION: SESSION\nREFRESH: REFRESH\nAPI_TOKEN: API_TOKEN', enum_type=CredentialKind, max_length=16)),
                ('secret_hash', fields.CharField(null=True, unique=True, max_length=64)),
                ('name', fields.CharField(null=True, max_length=100)),
                ('scopes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('user_agent', fields.CharField(null=True, max_length=256)),
                ('ip', fields.CharField(null=True, max_length=64)),
                ('revoked_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credentials', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A session, a refresh-token family or an API token.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefreshToken',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('family', fields.ForeignKeyField('models.Credential', source_field='family_id', db_constraint=True, to_field='id', related_name='refresh_tokens', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'refresh_tokens', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One refresh token of a family, usable once, after which its successor takes over.'},
            bases=['Model'],
        ),
    ]
