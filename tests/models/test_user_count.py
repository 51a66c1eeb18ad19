"""`totalCount`'s count (`services.users.count_users`) stays equal to `count(*)` of `users`
whatever writes users: on PostgreSQL the row of `user_count` (models/user_count.py,
migration 0009) in a database of its own beside `TEST_DATABASE_URL`'s, on SQLite (a
migrated file, and the app's in-memory database) a count. The ORM, `bulk_create`, SQL by
hand, deletes (their reported row counts undisturbed), and on PostgreSQL COPY, TRUNCATE and
registrations committing at once. Migrating counts the users already there; migrating back
removes the table and its triggers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from core.db import tortoise_config
from services.users import count_users
from tests.helpers import make_persona
from tests.helpers.backends import fresh_postgres_or_skip

BEFORE = "models.0008_link_flow_credential"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A never-migrated database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'count.db'}"
        return
    with fresh_postgres_or_skip("user_count") as url:
        yield url


def _placeholders(sqlite: bool, count: int, start: int = 1) -> str:
    return ", ".join("?" if sqlite else f"${n}" for n in range(start, start + count))


async def _insert_by_hand(names: list[str], sqlite: bool) -> None:
    """One INSERT statement of several users, bypassing the ORM."""
    rows, params = [], []
    for index, name in enumerate(names):
        marks = _placeholders(sqlite, 5, 5 * index + 1)
        rows.append(f"({marks}, 'x', TRUE, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        email = f"{name.lower()}@example.com"
        params += [str(uuid.uuid4()), name, name.lower(), email, email]
    await Tortoise.get_connection("default").execute_query(
        "INSERT INTO users (id, username, username_key, email, email_key, password_hash, is_active, "
        f"roles, created_at, updated_at) VALUES {', '.join(rows)}",
        params,
    )


async def _count_star() -> int:
    _, rows = await Tortoise.get_connection("default").execute_query("SELECT count(*) FROM users")
    return int(rows[0][0])


async def _assert_counted(expected: int) -> None:
    assert await _count_star() == expected
    assert await count_users() == expected


async def test_the_count_follows_every_way_users_are_written(database_url: str) -> None:
    from models import User

    sqlite = database_url.startswith("sqlite://")
    config = tortoise_config(database_url)
    try:
        await migrate(config=config, app_labels=["models"], target=BEFORE)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        await _insert_by_hand(["Old1", "Old2", "Old3"], sqlite)
        await Tortoise.close_connections()

        await migrate(config=config)  # 0009 counts the users already there
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        await _assert_counted(3)

        email = "orm@example.com"
        await User.create(username="Orm", username_key="orm", email=email, email_key=email, password_hash="x")
        await _assert_counted(4)
        await User.bulk_create(
            [
                User(
                    username=f"Bulk{n}",
                    username_key=f"bulk{n}",
                    email=f"bulk{n}@example.com",
                    email_key=f"bulk{n}@example.com",
                    password_hash="x",
                )
                for n in range(5)
            ]
        )
        await _assert_counted(9)
        await _insert_by_hand(["Hand1", "Hand2"], sqlite)
        await _assert_counted(11)
        assert await User.filter(username__startswith="Bulk").delete() == 5  # no trigger's rows among them
        await _assert_counted(6)
        # A failed insert (a taken username) counts nothing.
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            await _insert_by_hand(["Hand3", "Orm"], sqlite)
        await _assert_counted(6)
        await Tortoise.close_connections()

        await migrate(config=config, app_labels=["models"], target=BEFORE)  # and back
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        await _insert_by_hand(["After"], sqlite)  # no trigger left to fail on a missing table
        table = (
            "SELECT name FROM sqlite_master WHERE name = 'user_count'"
            if sqlite
            else "SELECT tablename FROM pg_tables WHERE tablename = 'user_count'"
        )
        assert (await Tortoise.get_connection("default").execute_query(table))[1] == []
        assert await _count_star() == 7
        await Tortoise.close_connections()

        await migrate(config=config)  # forward again: nothing the way back left stands in its way
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        await _assert_counted(7)
    finally:
        await Tortoise.close_connections()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new PostgreSQL database (skipped without TEST_DATABASE_URL; CI sets it)."""
    with fresh_postgres_or_skip("user_count") as url:
        yield url


async def test_postgres_counts_copy_truncate_and_registrations_committing_at_once(postgres_url: str) -> None:
    import asyncpg

    config = tortoise_config(postgres_url)
    try:
        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)

        copier = await asyncpg.connect(postgres_url)
        try:
            now = datetime.now(UTC)
            records = [
                (
                    uuid.uuid4(),
                    f"C{n}",
                    f"c{n}",
                    f"c{n}@example.com",
                    f"c{n}@ex.com",
                    "x",
                    True,
                    "[]",
                    now,
                    now,
                )
                for n in range(1000)
            ]
            columns = ["id", "username", "username_key", "email", "email_key", "password_hash", "is_active"]
            columns += ["roles", "created_at", "updated_at"]
            await copier.copy_records_to_table("users", records=records, columns=columns)
        finally:
            await copier.close()
        await _assert_counted(1000)

        # Twenty transactions, each inserting a user and holding on before its commit, all
        # open at once: the counter row's lock queues them, and none is lost.
        async def register_slowly(n: int) -> None:
            connection = await asyncpg.connect(postgres_url)
            try:
                async with connection.transaction():
                    await connection.execute(
                        "INSERT INTO users (id, username, username_key, email, email_key, password_hash, "
                        "is_active, roles, created_at, updated_at) VALUES "
                        "($1, $2, $3, $4, $4, 'x', TRUE, '[]', now(), now())",
                        uuid.uuid4(),
                        f"P{n}",
                        f"p{n}",
                        f"p{n}@example.com",
                    )
                    await asyncio.sleep(0.05)
            finally:
                await connection.close()

        await asyncio.gather(*(register_slowly(n) for n in range(20)))
        await _assert_counted(1020)

        await Tortoise.get_connection("default").execute_script("TRUNCATE users CASCADE")
        await _assert_counted(0)
        # The suite's reset empties every table, the counter's too: it counts again.
        await _insert_by_hand(["Again"], sqlite=False)
        await Tortoise.get_connection("default").execute_script("TRUNCATE user_count")
        await _assert_counted(1)
    finally:
        await Tortoise.close_connections()


async def test_the_app_counts_its_users_on_any_database(http: httpx.AsyncClient) -> None:
    """The app's own database (SQLite in memory, which counts; PostgreSQL with
    TEST_DATABASE_URL, whose triggers count), through the services the API uses:
    registrations and a deletion."""
    from models import User

    for name in ("carol", "dave", "erin"):
        await make_persona(http, name)
    assert await count_users() == 3
    await User.filter(username="dave").delete()
    assert await count_users() == 2 == await User.all().count()
