"""The test database and Redis: emptying them between tests, reading rows as stored."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tortoise import Tortoise

from tests.helpers.config import TEST_DATABASE_URL, uses_postgres

# The schema modules whose migrations this process has applied to the test database.
_migrated: set[tuple[str, ...]] = set()


async def reset_postgres(url: str, modules: tuple[str, ...] = ()) -> None:
    """Apply Gatehouse's migrations and those of the schema `modules` (once per process and
    module list), then empty every table but Tortoise's migration record: Gatehouse's and
    every module's that this database holds."""
    from core.db import MIGRATIONS_TABLE, apply_migrations, tortoise_config
    from schema.modules import load_modules, model_apps

    apps = model_apps(load_modules(modules))
    if modules not in _migrated:
        await apply_migrations(url, apps)
        await Tortoise.close_connections()
        _migrated.add(modules)
    await Tortoise.init(config=tortoise_config(url, apps=apps))
    try:
        connection = Tortoise.get_connection("default")
        rows = await connection.execute_query_dict(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> $1",
            [MIGRATIONS_TABLE],
        )
        tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
        if tables:
            await connection.execute_script(f"TRUNCATE {tables} CASCADE")
    finally:
        await Tortoise.close_connections()


@contextlib.contextmanager
def fresh_postgres_database(purpose: str) -> Iterator[str]:
    """The URL of a new, empty database beside `TEST_DATABASE_URL`'s on the same server,
    named after it and `purpose` with a random suffix, dropped afterwards."""
    import asyncpg

    assert TEST_DATABASE_URL, "needs TEST_DATABASE_URL"
    parts = urlsplit(TEST_DATABASE_URL)
    name = f"{parts.path.lstrip('/')}_{purpose}_{uuid.uuid4().hex[:8]}"
    admin_url = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))

    async def run_sql(sql: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    finally:
        # FORCE: a server process a failed test left behind must not keep it alive.
        asyncio.run(run_sql(f'DROP DATABASE "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fresh_postgres_or_skip(purpose: str) -> Iterator[str]:
    """`fresh_postgres_database(purpose)`, or the test skipped, saying so, without
    TEST_DATABASE_URL."""
    import pytest

    if not TEST_DATABASE_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL); CI sets it")
    with fresh_postgres_database(purpose) as url:
        yield url


@contextlib.contextmanager
def empty_database(directory: Path, purpose: str) -> Iterator[str]:
    """A never-migrated database of the kind the suite runs on: a new PostgreSQL database
    when `TEST_DATABASE_URL` is set (dropped afterwards), else a SQLite file in `directory`."""
    if TEST_DATABASE_URL:
        with fresh_postgres_database(purpose) as url:
            yield url
    else:
        yield f"sqlite://{directory / f'{purpose}.db'}"


async def reset_redis(url: str) -> None:
    """Empty the test Redis database."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def raw_row(table: str, row_id: object) -> dict[str, Any]:
    """A row exactly as stored, read with plain SQL (no model conversion)."""
    placeholder = "$1" if uses_postgres() else "?"
    rows = await Tortoise.get_connection("default").execute_query_dict(
        f"SELECT * FROM {table} WHERE id = {placeholder}", [str(row_id)]
    )
    assert len(rows) == 1, rows
    return rows[0]


def run(coro: Any) -> Any:
    """Run a coroutine from synchronous test code."""
    return asyncio.run(coro)


async def create_admin_with(backend: Any, *args: Any, **kwargs: Any) -> Any:
    """`services.accounts.create_admin` with the collaborators `backend` composed, as
    `python main.py create-admin` calls it."""
    from services.accounts import create_admin

    return await create_admin(backend.hasher, backend.identity_cache, backend.basic_cache, *args, **kwargs)
