"""Migration 0005 (linked identities, sign-in flows, spent ID tokens, and `EXTERNAL` among
the credential kinds): a database at 0004 holding accounts, sessions and refresh-token
families is upgraded in place with every row kept, on SQLite (where the kind column's
new description remakes the credentials table) and on PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from core.clock import utcnow
from core.db import tortoise_config
from tests.helpers import TEST_DATABASE_URL

NEW_TABLES = {"external_identities", "external_login_flows", "spent_id_tokens"}


async def _tables(connection, sqlite: bool) -> set[str]:
    if sqlite:
        rows = await connection.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row["name"] for row in rows}
    rows = await connection.execute_query_dict(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    return {row["table_name"] for row in rows}


async def test_a_database_of_0004_with_credentials_is_upgraded_in_place(
    tmp_path: Path, clean_backends: None
) -> None:
    url = TEST_DATABASE_URL or f"sqlite://{tmp_path / 'upgrade.db'}"
    sqlite = url.startswith("sqlite://")
    config = tortoise_config(url)
    user_id, session_id, family_id, token_id = (uuid.uuid4() for _ in range(4))
    try:
        await migrate(config=config, app_labels=["models"], target="models.0004_account_tokens")
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        connection = Tortoise.get_connection("default")
        assert not NEW_TABLES & await _tables(connection, sqlite)

        def marks(count: int) -> str:
            return ", ".join("?" if sqlite else f"${n}" for n in range(1, count + 1))

        def mark(number: int) -> str:
            return "?" if sqlite else f"${number}"

        later = utcnow() + timedelta(days=1)
        await connection.execute_query(
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash, is_active, "
            f"roles, created_at, updated_at) VALUES ({marks(7)}, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            [str(user_id), "Old", "old", "old@example.com", "old@example.com", "x", True],
        )
        for credential_id, kind in ((session_id, "SESSION"), (family_id, "REFRESH")):
            await connection.execute_query(
                "INSERT INTO credentials (id, user_id, kind, scopes, created_at, expires_at) "
                f"VALUES ({marks(3)}, '[]', CURRENT_TIMESTAMP, {mark(4)})",
                [str(credential_id), str(user_id), kind, later],
            )
        await connection.execute_query(
            "INSERT INTO refresh_tokens (id, family_id, token_hash, created_at, expires_at) "
            f"VALUES ({marks(3)}, CURRENT_TIMESTAMP, {mark(4)})",
            [str(token_id), str(family_id), "f" * 64, later],
        )
        await Tortoise.close_connections()

        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        connection = Tortoise.get_connection("default")
        assert NEW_TABLES <= await _tables(connection, sqlite)
        from models import Credential, CredentialKind, ExternalIdentity, RefreshToken, User

        user = await User.get(id=user_id)
        assert {c.kind for c in await Credential.filter(user_id=user_id)} == {
            CredentialKind.SESSION,
            CredentialKind.REFRESH,
        }
        # The refresh token survived the credentials table being remade (SQLite).
        assert (await RefreshToken.get(id=token_id)).family_id == family_id
        link = await Credential.create(user=user, kind=CredentialKind.EXTERNAL, expires_at=later)
        await ExternalIdentity.create(
            credential=link, user=user, provider="acme", issuer="https://id.example.com", subject="s-1"
        )
        assert (await ExternalIdentity.get(subject="s-1")).credential_id == link.id
    finally:
        await Tortoise.close_connections()
        if not sqlite:  # leave the test database as the other tests expect it: newest, empty
            await migrate(config=config)
            await Tortoise.close_connections()
