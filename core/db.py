"""Tortoise configuration and database start-up.

Gatehouse's own models are the Tortoise app `models`; each schema module with models is
one more app (`ModelApp`, built by schema/modules.py from `SCHEMA_MODULES`), with its own
migrations package. The apps are passed in: nothing here reads the environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models import MODELS_MODULES

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
    if timeout is not None and database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        from tortoise.backends.base.config_generator import expand_db_url

        connection = expand_db_url(database_url)
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
    """Apply every committed migration that the database lacks: Gatehouse's and `apps`'."""
    from tortoise.migrations.api import migrate

    await migrate(config=tortoise_config(database_url, apps=apps))


# For Tortoise's own CLI with Gatehouse's models alone
# (`tortoise -c core.db.TORTOISE_ORM makemigrations`); with SCHEMA_MODULES, `main.TORTOISE_ORM`.
TORTOISE_ORM = tortoise_config("sqlite://gatehouse.db")
