"""Tortoise configuration and database start-up."""

from __future__ import annotations

from typing import Any

from models import MODELS_MODULES

MIGRATIONS_MODULE = "models.migrations"


def tortoise_config(database_url: str, timeout: float | None = None) -> dict[str, Any]:
    """The Tortoise config for `database_url` with the Gatehouse models and migrations."""
    connection: Any = database_url
    if timeout is not None and database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        from tortoise.backends.base.config_generator import expand_db_url

        connection = expand_db_url(database_url)
        connection["credentials"]["timeout"] = timeout  # connect timeout, seconds
        connection["credentials"]["command_timeout"] = timeout  # per statement, seconds
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODELS_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def is_sqlite(database_url: str) -> bool:
    """True for the embedded database."""
    return database_url.startswith("sqlite://")


async def apply_migrations(database_url: str) -> None:
    """Apply every committed migration that the database lacks."""
    from tortoise.migrations.api import migrate

    await migrate(config=tortoise_config(database_url))


# For Tortoise's own CLI (`tortoise --config core.db.TORTOISE_ORM makemigrations`).
TORTOISE_ORM = tortoise_config("sqlite://gatehouse.db")
