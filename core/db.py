"""Tortoise configuration and database start-up.

Gatehouse's own models are the Tortoise app `models`; each schema module with models is
one more app (`ModelApp`, built by schema/modules.py from `SCHEMA_MODULES`), with its own
migrations package. The apps are passed in: nothing here reads the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models import MODELS_MODULES

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

MIGRATIONS_MODULE = "models.migrations"
# Tortoise's record of applied migrations (tortoise/migrations/recorder.py), for every app.
MIGRATIONS_TABLE = "tortoise_migrations"


@dataclass(frozen=True)
class ModelApp:
    """One Tortoise app: its label (`"models"` for Gatehouse's own), its model modules and
    the package its migrations live in."""

    label: str
    models: tuple[str, ...]
    migrations: str


GATEHOUSE_APP = ModelApp("models", tuple(MODELS_MODULES), MIGRATIONS_MODULE)


def tortoise_config(
    database_url: str, timeout: float | None = None, apps: Sequence[ModelApp] = ()
) -> dict[str, Any]:
    """The Tortoise config for `database_url`: Gatehouse's models and migrations, then `apps`."""
    connection: Any = database_url
    if database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        from tortoise.backends.base.config_generator import expand_db_url

        connection = expand_db_url(database_url)
        # asyncpg's pool otherwise sends `RESET ALL; CLOSE ALL; UNLISTEN *; ...` after every
        # query, a second round trip each time; nothing here leaves session state behind.
        connection["credentials"]["reset"] = keep_session
        if timeout is not None:
            connection["credentials"]["timeout"] = timeout  # connect timeout, seconds
            connection["credentials"]["command_timeout"] = timeout  # per statement, seconds
    return {
        "connections": {"default": connection},
        "apps": {
            app.label: {
                "models": list(app.models),
                "default_connection": "default",
                "migrations": app.migrations,
            }
            for app in (GATEHOUSE_APP, *apps)
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def keep_session(connection: Any) -> None:
    """asyncpg's pool `reset`, called as a connection goes back to the pool (after asyncpg
    rolled back any transaction left open): nothing more. Gatehouse sets no session
    variable, holds no advisory lock, cursor or LISTEN on a pooled connection (the
    migration lock has a connection of its own), so its default query would reset nothing."""


def forget_compiled_queries() -> None:
    """Drop the SQL Tortoise compiled for earlier connections.

    Tortoise keeps each model's INSERT/UPDATE/DELETE statements by connection name
    (`default`) and table, not by database dialect: an app started in a process where
    another app already wrote through a `default` connection to another kind of database
    (the suite builds SQLite apps during a PostgreSQL run; an embedding application could
    too) would send SQLite's `?` placeholders to PostgreSQL. Called before each start.
    """
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()


def is_sqlite(database_url: str) -> bool:
    """True for the embedded database."""
    return database_url.startswith("sqlite://")


async def apply_migrations(database_url: str, apps: Sequence[ModelApp] = ()) -> None:
    """Apply every committed migration that the database lacks: Gatehouse's and `apps`'.

    Under a lock held by one process at a time (`migration_lock`), so instances starting
    together with MIGRATE_ON_START=on, or two `migrate` runs, apply each migration once.
    """
    from tortoise.migrations.api import migrate

    async with migration_lock(database_url):
        await migrate(config=tortoise_config(database_url, apps=apps))


# The PostgreSQL advisory lock that serialises migrating: "gate" in ASCII.
MIGRATION_LOCK_KEY = 0x67617465


@contextlib.asynccontextmanager
async def migration_lock(database_url: str) -> AsyncIterator[None]:
    """Held by one migrating process at a time: a PostgreSQL advisory lock on a session of
    its own (ended, and so released, on exit), or an exclusive `flock` on the SQLite file
    (SQLite's own locks are `fcntl` ranges, which `flock` does not touch). Tortoise's
    migration runs each migration in its own transaction and checks the record only
    before the first, so without the lock a second process would apply them again."""
    from tortoise.backends.base.config_generator import expand_db_url

    config = expand_db_url(database_url)
    credentials = config["credentials"]
    if config["engine"] == "tortoise.backends.asyncpg":
        import asyncpg

        session = await asyncpg.connect(
            host=credentials.get("host"),
            port=credentials.get("port"),
            user=credentials.get("user"),
            password=credentials.get("password"),
            database=credentials.get("database"),
            ssl=credentials.get("ssl"),
        )
        try:
            await session.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            yield
        finally:
            await session.close()
    elif is_sqlite(database_url) and credentials["file_path"] != ":memory:":
        import fcntl

        with open(credentials["file_path"], "ab") as database_file:
            await asyncio.to_thread(fcntl.flock, database_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(database_file.fileno(), fcntl.LOCK_UN)
    else:  # psycopg:// (not installed with Gatehouse) or a throw-away database
        yield


class MigrationsPending(RuntimeError):
    """The database lacks committed migrations and start-up is not to apply them; the
    message is the one line `main.py serve` prints (core/preflight.py)."""


def default_connection() -> BaseDBAsyncClient:
    """The running app's connection (opened by the lifespan's `RegisterTortoise`)."""
    from tortoise import Tortoise

    return Tortoise.get_connection("default")


async def database_answers(timeout: float) -> bool:
    """Whether the running app's database answers `SELECT 1` within `timeout` seconds."""
    try:
        await asyncio.wait_for(default_connection().execute_query("SELECT 1"), timeout)
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False
    return True


def committed_migrations(apps: Sequence[ModelApp] = ()) -> frozenset[str]:
    """Every migration committed for Gatehouse and `apps`, as `app.name` (`models.0001_initial`):
    the modules of each migrations package that Tortoise's loader takes (not packages, no
    leading `_` or `~`)."""
    import importlib
    import pkgutil

    names: set[str] = set()
    for app in (GATEHOUSE_APP, *apps):
        package = importlib.import_module(app.migrations)
        for _, name, is_package in pkgutil.iter_modules(package.__path__):
            if not is_package and name[0] not in "_~":
                names.add(f"{app.label}.{name}")
    return frozenset(names)


async def applied_migrations(connection: BaseDBAsyncClient) -> frozenset[str]:
    """The migrations Tortoise recorded as applied in the database behind `connection`
    (`app.name`); none when it holds no record yet. A database that does not answer raises."""
    if connection.capabilities.dialect == "sqlite":
        exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        exists = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1"
    if not await connection.execute_query_dict(exists, [MIGRATIONS_TABLE]):
        return frozenset()
    rows = await connection.execute_query_dict(f'SELECT "app", "name" FROM "{MIGRATIONS_TABLE}"')  # noqa: S608 - a constant
    return frozenset(f"{row['app']}.{row['name']}" for row in rows)


async def pending_migrations(connection: BaseDBAsyncClient, committed: frozenset[str]) -> tuple[str, ...]:
    """The `committed` migrations the database behind `connection` lacks, in name order."""
    return tuple(sorted(committed - await applied_migrations(connection)))


async def pending_migrations_at(database_url: str, apps: Sequence[ModelApp] = ()) -> tuple[str, ...]:
    """`pending_migrations` of `database_url`, on connections opened and closed for it."""
    from tortoise import Tortoise

    await Tortoise.init(config=tortoise_config(database_url, apps=apps), init_connections=False)
    try:
        return await pending_migrations(Tortoise.get_connection("default"), committed_migrations(apps))
    finally:
        await Tortoise.close_connections()


async def migrate_pending(database_url: str, apps: Sequence[ModelApp] = ()) -> tuple[str, ...]:
    """Apply what the database lacks (MIGRATE_ON_START); the names it lacked, none when it
    lacked nothing (then nothing is locked or run)."""
    from tortoise import Tortoise

    pending = await pending_migrations_at(database_url, apps)
    if pending:
        try:
            await apply_migrations(database_url, apps)
        finally:
            await Tortoise.close_connections()
    return pending


# For Tortoise's own CLI with Gatehouse's models alone
# (`tortoise -c core.db.TORTOISE_ORM makemigrations`); with SCHEMA_MODULES, `main.TORTOISE_ORM`.
TORTOISE_ORM = tortoise_config("sqlite://gatehouse.db")
