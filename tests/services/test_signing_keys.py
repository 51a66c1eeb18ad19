"""Migration 0003 (`signing_keys`) and the rows behind the key ring, on SQLite (a file
database, migrated as at start-up) and on PostgreSQL with TEST_DATABASE_URL: a database at
0002 is upgraded, keys are stored, found newest-last, retired, and a ring started on it
signs with the newest, decrypting its private part from the row."""

from __future__ import annotations

from pathlib import Path

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from auth.keyring import StoredKeyRing, add_key, retire_key
from core.db import tortoise_config
from core.settings import Secret
from services.signing_keys import SigningKeyRows
from tests.helpers import TEST_DATABASE_URL, TEST_SECRET

COLUMNS = {"kid", "algorithm", "public_jwk", "private_jwe", "created_at", "retired_at"}


async def _tables(connection, sqlite: bool) -> set[str]:
    if sqlite:
        rows = await connection.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row["name"] for row in rows}
    rows = await connection.execute_query_dict(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    )
    return {row["tablename"] for row in rows}


async def _columns(connection, sqlite: bool) -> set[str]:
    if sqlite:
        return {row["name"] for row in await connection.execute_query_dict("PRAGMA table_info(signing_keys)")}
    rows = await connection.execute_query_dict(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'signing_keys' "
        "AND table_schema = current_schema()"
    )
    return {row["column_name"] for row in rows}


async def test_0003_adds_the_table_and_the_rows_serve_a_ring(tmp_path: Path, clean_backends: None) -> None:
    url = TEST_DATABASE_URL or f"sqlite://{tmp_path / 'keys.db'}"
    sqlite = url.startswith("sqlite://")
    config = tortoise_config(url)
    secret = Secret(TEST_SECRET)
    try:
        await migrate(config=config, app_labels=["models"], target="models.0002_auth_time_amr_email_verified")
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        assert "signing_keys" not in await _tables(Tortoise.get_connection("default"), sqlite)
        await Tortoise.close_connections()

        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        assert COLUMNS == await _columns(Tortoise.get_connection("default"), sqlite)

        rows = SigningKeyRows()
        ring = StoredKeyRing("ES256", rows, secret, reload_interval=30)
        await ring.start(background=False)  # the first start makes one
        first = ring.signer.kid
        assert [row.kid for row in await rows.live("ES256")] == [first]
        assert await rows.live("EdDSA") == []

        second = await add_key(rows, "ES256", secret)
        assert [row.kid for row in await rows.live("ES256")] == [first, second]
        await ring.reload()
        assert ring.signer.kid == second  # decrypted from its row
        await retire_key(rows, "ES256", first, secret)
        assert [row.kid for row in await rows.live("ES256")] == [second]
        assert not await rows.retire(first)  # already retired
        await ring.reload()
        assert not ring.knows(first) and ring.knows(second)
        stored = (await rows.live("ES256"))[0]
        assert "d" not in stored.public_jwk and stored.private_jwe.count(".") == 4
    finally:
        await Tortoise.close_connections()
        if not sqlite:  # leave the test database as the other tests expect it: newest
            await migrate(config=config)
            await Tortoise.close_connections()
