"""Migration 0002 (credentials' `auth_time` and `amr`, users' `email_verified_at`): the
committed migrations match the models, and a database made by 0001 that already holds
accounts and credentials is upgraded in place, its old rows kept (with no `auth_time`:
stale for step-up until `reauthenticate`). SQLite, and PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import uuid
from pathlib import Path

from tortoise import Tortoise
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate
from tortoise.migrations.autodetector import MigrationAutodetector

from core.db import tortoise_config
from tests.helpers import TEST_DATABASE_URL

NEW_CREDENTIAL_COLUMNS = {"auth_time", "amr"}


async def test_the_committed_migrations_match_the_models() -> None:
    """What `tortoise -c core.db.TORTOISE_ORM makemigrations` would write: nothing."""
    config = tortoise_config("sqlite://:memory:")
    async with TortoiseContext() as context:
        await context.init(config=config)
        writers = await MigrationAutodetector(context.apps, config["apps"]).changes()
    pending = [(w.app_label, [type(op).__name__ for op in w.operations]) for w in writers]
    assert [p for p in pending if p[0] == "models"] == [], pending


async def _columns(connection, table: str, sqlite: bool) -> set[str]:
    if sqlite:
        return {row["name"] for row in await connection.execute_query_dict(f"PRAGMA table_info({table})")}
    rows = await connection.execute_query_dict(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
        "AND table_schema = current_schema()",
        [table],
    )
    return {row["column_name"] for row in rows}


async def test_a_database_of_0001_with_rows_is_upgraded_in_place(
    tmp_path: Path, clean_backends: None
) -> None:
    url = TEST_DATABASE_URL or f"sqlite://{tmp_path / 'upgrade.db'}"
    sqlite = url.startswith("sqlite://")
    config = tortoise_config(url)
    user_id, credential_id = uuid.uuid4(), uuid.uuid4()
    try:
        # Back to 0001 (on PostgreSQL the test database was already at the newest).
        await migrate(config=config, app_labels=["models"], target="models.0001_initial")
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        connection = Tortoise.get_connection("default")
        assert not NEW_CREDENTIAL_COLUMNS & await _columns(connection, "credentials", sqlite)

        def marks(count: int) -> str:
            return ", ".join("?" if sqlite else f"${n}" for n in range(1, count + 1))

        await connection.execute_query(
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash, is_active, "
            f"roles, created_at, updated_at) VALUES ({marks(7)}, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            [str(user_id), "Old", "old", "old@example.com", "old@example.com", "x", True],
        )
        await connection.execute_query(
            "INSERT INTO credentials (id, user_id, kind, scopes, created_at, expires_at) "
            f"VALUES ({marks(2)}, 'SESSION', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            [str(credential_id), str(user_id)],
        )
        await Tortoise.close_connections()

        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        connection = Tortoise.get_connection("default")
        assert NEW_CREDENTIAL_COLUMNS <= await _columns(connection, "credentials", sqlite)
        assert "email_verified_at" in await _columns(connection, "users", sqlite)
        from models import Credential, User

        old = await Credential.get(id=credential_id)
        assert old.auth_time is None and old.amr is None
        assert (await User.get(id=user_id)).email_verified_at is None
    finally:
        await Tortoise.close_connections()
        if not sqlite:  # leave the test database as the other tests expect it: newest, empty
            await migrate(config=config)
            await Tortoise.close_connections()
