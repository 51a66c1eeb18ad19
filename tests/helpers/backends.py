"""The test database and Redis: emptying them between tests, reading rows as stored."""

from __future__ import annotations

import asyncio
from typing import Any

from tortoise import Tortoise

from tests.helpers.config import uses_postgres


async def reset_postgres(url: str) -> None:
    """Apply migrations (once per process) and empty every table."""
    from core.db import apply_migrations, tortoise_config

    if not getattr(reset_postgres, "migrated", False):
        await apply_migrations(url)
        await Tortoise.close_connections()
        reset_postgres.migrated = True  # type: ignore[attr-defined]
    await Tortoise.init(config=tortoise_config(url))
    try:
        await Tortoise.get_connection("default").execute_script(
            "TRUNCATE refresh_tokens, credentials, users CASCADE"
        )
    finally:
        await Tortoise.close_connections()


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
