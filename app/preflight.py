"""Checks before serving that need Gatehouse's own layers: the backends answer
(core/preflight.py), the database holds every migration unless start-up applies them
(MIGRATE_ON_START), and the stored signing keys let this instance sign.

A refusal is one line naming the cause and what to do; `main.py serve` and
`app.asgi:create_from_env` print it and exit 2 before the app's lifespan runs, so an
instance whose `SECRET_KEY` opens none of the live signing keys never gets as far as a
traceback from the lifespan (which still refuses, should the keys change in between).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from tortoise import Tortoise
from tortoise.exceptions import OperationalError

from auth.keyring import startup_refusal
from core.db import tortoise_config
from core.preflight import check_backends, check_migrations
from core.settings import Settings, SettingsError
from schema.modules import load_modules, model_apps
from services.signing_keys import SigningKeyRows


async def check_signing_keys(settings: Settings) -> str | None:
    """None when this instance can sign with the stored keys of `JWT_ALGORITHM` (or none is
    stored yet, or the database has no `signing_keys` table yet: the first start makes the
    key); else the one line of `auth.keyring.startup_refusal`. Reads only."""
    if ":memory:" in settings.database_url:  # a new database every start: nothing stored
        return None
    await Tortoise.init(config=tortoise_config(settings.database_url, settings.db_timeout))
    try:
        return await startup_refusal(SigningKeyRows(), settings)
    except OperationalError:  # no such table: SQLite is migrated at start, PostgreSQL by `migrate`
        return None
    finally:
        await Tortoise.close_connections()


async def check_schema_migrations(settings: Settings) -> str | None:
    """None when start-up will migrate or the database holds every migration, Gatehouse's
    and each `SCHEMA_MODULES` module's; else the line naming `python main.py migrate`."""
    try:
        apps = model_apps(load_modules(settings.schema_modules))
    except SettingsError:  # building the app refuses it next, as a configuration error
        return None
    return await check_migrations(settings, apps)


async def check_before_serving(settings: Settings) -> str | None:
    """None when the server may start; else one line saying why not (the first problem)."""
    return (
        await check_backends(settings)
        or await check_schema_migrations(settings)
        or await check_signing_keys(settings)
    )


def refusal_before_serving(settings: Settings) -> str | None:
    """`check_before_serving` run to the end on its own event loop in a worker thread, for
    callers inside a running loop (uvicorn calls `create_from_env` in its own)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gatehouse-preflight") as pool:
        return pool.submit(asyncio.run, check_before_serving(settings)).result()
