"""Migrations 0003 (`signing_keys`) and 0006 (`activates_at`) and the rows behind the key
ring, on SQLite (a file database, migrated as at start-up) and on PostgreSQL with
TEST_DATABASE_URL: a database at 0002 is upgraded, keys are stored, found newest-last,
retired, and a ring started on it signs with the newest once its lead has passed,
decrypting its private part from the row; a key stored at 0005 keeps serving after 0006;
an activation time round-trips."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import time_machine
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from auth.keyring import PUBLICATION_LEAD, StoredKeyRing, add_key, generate_key, retire_key, rotate_key
from core.clock import as_utc, utcnow
from core.db import tortoise_config
from core.settings import Secret
from services.signing_keys import SigningKeyRows
from tests.helpers import TEST_DATABASE_URL, TEST_SECRET

COLUMNS_0003 = {"kid", "algorithm", "public_jwk", "private_jwe", "created_at", "retired_at"}
COLUMNS = COLUMNS_0003 | {"activates_at"}
PAST_THE_LEAD = timedelta(seconds=PUBLICATION_LEAD + 1)


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
        assert ring.signer.kid == first  # published, not signing before its lead is over
        with time_machine.travel(utcnow() + PAST_THE_LEAD, tick=True):
            assert ring.signer.kid == second  # decrypted from its row
            await retire_key(rows, "ES256", first, secret)
            assert [row.kid for row in await rows.live("ES256")] == [second]
            assert not await rows.retire(first)  # already retired
            await ring.reload()
            assert not ring.knows(first) and ring.knows(second)
            stored = (await rows.live("ES256"))[0]
            assert "d" not in stored.public_jwk and stored.private_jwe.count(".") == 4
            assert stored.activates_at is None

        at = utcnow().replace(microsecond=0) + timedelta(minutes=5)
        third = await rotate_key(rows, "ES256", secret, activates_at=at)
        (row,) = [row for row in await rows.live("ES256") if row.kid == third]
        assert as_utc(row.activates_at) == at
    finally:
        await Tortoise.close_connections()
        if not sqlite:  # leave the test database as the other tests expect it: newest
            await migrate(config=config)
            await Tortoise.close_connections()


async def test_0006_adds_activates_at_and_a_key_stored_before_still_signs(
    tmp_path: Path, clean_backends: None
) -> None:
    url = TEST_DATABASE_URL or f"sqlite://{tmp_path / 'keys.db'}"
    sqlite = url.startswith("sqlite://")
    config = tortoise_config(url)
    secret = Secret(TEST_SECRET)
    key = generate_key("EdDSA", secret)
    try:
        await migrate(config=config, app_labels=["models"], target="models.0005_external_identities")
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        connection = Tortoise.get_connection("default")
        assert COLUMNS_0003 == await _columns(connection, sqlite)
        insert = "INSERT INTO signing_keys (kid, algorithm, public_jwk, private_jwe, created_at) " + (
            "VALUES (?, ?, ?, ?, ?)" if sqlite else "VALUES ($1, $2, $3, $4, $5)"
        )
        created = utcnow() - timedelta(days=1)
        public = json.dumps(key.public_jwk)
        await connection.execute_query(
            insert, [key.kid, "EdDSA", public, key.private_jwe, created.isoformat() if sqlite else created]
        )
        await Tortoise.close_connections()

        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        assert COLUMNS == await _columns(Tortoise.get_connection("default"), sqlite)
        (row,) = await SigningKeyRows().live("EdDSA")
        assert row.kid == key.kid and row.activates_at is None
        ring = StoredKeyRing("EdDSA", SigningKeyRows(), secret, reload_interval=30)
        await ring.start(background=False)
        assert ring.signer.kid == key.kid
        assert [k["kid"] for k in (await ring.published_jwks())["keys"]] == [key.kid]
    finally:
        await Tortoise.close_connections()
        if not sqlite:
            await migrate(config=config)
            await Tortoise.close_connections()
