"""Start-up checks: a wrong DATABASE_URL or REDIS_URL stops start-up with one clear line."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from core.db import ModelApp

STARTUP_TIMEOUT = 10.0  # seconds to reach each backing service at start-up


def redact_url(url: str) -> str:
    """`url` with any password replaced, safe to print."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


async def _check_database(settings: Settings) -> None:
    from tortoise import Tortoise

    from core.db import tortoise_config

    # asyncio.timeout, not wait_for: Tortoise keeps its context in a contextvar,
    # which a wait_for task would not hand back.
    async with asyncio.timeout(STARTUP_TIMEOUT):
        await Tortoise.init(config=tortoise_config(settings.database_url, settings.db_timeout))
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT):
            await Tortoise.get_connection("default").execute_query("SELECT 1")
    finally:
        await Tortoise.close_connections()


async def _check_redis(url: str) -> None:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(url, socket_connect_timeout=STARTUP_TIMEOUT)
    try:
        await asyncio.wait_for(client.ping(), STARTUP_TIMEOUT)
    finally:
        await client.aclose()


def migrations_pending_line(database_url: str, pending: Sequence[str], starting: bool = True) -> str:
    """The one line that refuses a start (or, with `starting` false, a command such as
    `create-admin`) on a database lacking `pending` migrations."""
    shown = ", ".join(pending[:3]) + (f" and {len(pending) - 3} more" if len(pending) > 3 else "")
    remedy = "run `python main.py migrate` first"
    if starting:
        remedy += ", or start with MIGRATE_ON_START=on"
    return f"DATABASE_URL={redact_url(database_url)} lacks {len(pending)} migration(s) ({shown}): {remedy}"


async def check_migrations(settings: Settings, apps: Sequence[ModelApp] = ()) -> str | None:
    """`None` when start-up will migrate (MIGRATE_ON_START) or nothing is pending (Gatehouse's
    migrations and those of `apps`, the schema modules'); else the one line naming
    `python main.py migrate`. Run after `check_backends`: the database answers."""
    from core.db import pending_migrations_at

    if settings.migrates_on_start or ":memory:" in settings.database_url:
        return None
    async with asyncio.timeout(STARTUP_TIMEOUT):
        pending = await pending_migrations_at(settings.database_url, apps)
    return migrations_pending_line(settings.database_url, pending) if pending else None


async def check_backends(settings: Settings) -> str | None:
    """`None` when the database (and Redis, when configured) answer; else one line naming the variable."""
    try:
        await _check_database(settings)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as one line
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"cannot use DATABASE_URL={redact_url(settings.database_url)}: {reason}"
    if settings.redis_url:
        try:
            await _check_redis(settings.redis_url)
        except Exception as exc:  # noqa: BLE001
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"cannot use REDIS_URL={redact_url(settings.redis_url)}: {reason}"
    return None
