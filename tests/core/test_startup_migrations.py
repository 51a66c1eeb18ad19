"""Migrations at start-up (contract section 14): MIGRATE_ON_START, the migrations a database
lacks, the lock that lets several processes migrate at once, and the app's lifespan, which
migrates or refuses to serve a database that lacks a migration."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise

from app.factory import create_app
from core.db import (
    MigrationsPending,
    ModelApp,
    apply_migrations,
    committed_migrations,
    migrate_pending,
    pending_migrations_at,
)
from core.preflight import check_migrations, migrations_pending_line
from core.settings import Settings
from tests.helpers import REGISTER, STRONG_PASSWORD, app_client, gql, make_settings
from tests.helpers.backends import empty_database

PROJECTS_APP = ModelApp(
    "tests_helpers_modules_projects",
    ("tests.helpers.modules.projects.models",),
    "tests.helpers.modules.projects.migrations",
)
POSTGRES = "postgres://gatehouse@db.internal:5432/gatehouse"


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A database never migrated, of the kind the suite runs on."""
    with empty_database(tmp_path, "startup") as database_url:
        yield database_url


def _settings(**env: str) -> Settings:
    return Settings.from_env({"SECRET_KEY": "Jq2cVxv0m7rKp9sZ1bT4nYw8eLhA3dUf6gQiR5oNzXc", **env})


@pytest.mark.parametrize(
    ("env", "migrates"),
    [
        ({}, True),
        ({"DATABASE_URL": POSTGRES}, True),
        ({"APP_ENV": "production", "ALLOWED_HOSTS": "a.example", "DATABASE_URL": POSTGRES}, False),
        ({"APP_ENV": "production", "ALLOWED_HOSTS": "a.example"}, True),
        ({"APP_ENV": "production", "ALLOWED_HOSTS": "a.example", "MIGRATE_ON_START": "off"}, False),
        (
            {"APP_ENV": "production", "ALLOWED_HOSTS": "a.example", "DATABASE_URL": POSTGRES,
             "MIGRATE_ON_START": "on"},
            True,
        ),
        ({"DATABASE_URL": POSTGRES, "MIGRATE_ON_START": "off"}, False),
        ({"MIGRATE_ON_START": "off"}, False),
    ],
    ids=[
        "development-sqlite", "development-postgres", "production-postgres", "production-sqlite",
        "production-sqlite-off", "production-postgres-on", "development-postgres-off",
        "development-sqlite-off",
    ],
)  # fmt: skip
def test_migrate_on_start_is_on_except_in_production_on_postgresql(env: dict[str, str], migrates: bool):
    assert _settings(**env).migrates_on_start is migrates


def test_migrate_on_start_refuses_what_is_not_on_or_off():
    from core.settings import SettingsError

    with pytest.raises(SettingsError, match="MIGRATE_ON_START must be on or off"):
        _settings(MIGRATE_ON_START="sometimes")


def test_committed_migrations_are_the_files_of_each_apps_package():
    migrations = Path(__file__).resolve().parents[2] / "models" / "migrations"
    on_disk = {f"models.{path.stem}" for path in migrations.glob("[0-9]*.py")}

    assert committed_migrations() == on_disk
    assert "models.0001_initial" in on_disk
    with_module = committed_migrations([PROJECTS_APP])
    assert with_module == on_disk | {"tests_helpers_modules_projects.0001_initial"}


def test_the_refusal_is_one_line_naming_the_command_and_no_password():
    line = migrations_pending_line(
        "postgres://gatehouse:hunter2@db:5432/gatehouse", [f"models.000{n}" for n in range(1, 6)]
    )

    assert "\n" not in line
    assert "python main.py migrate" in line and "MIGRATE_ON_START=on" in line
    assert "lacks 5 migration(s) (models.0001, models.0002, models.0003 and 2 more)" in line
    assert "hunter2" not in line


async def test_a_database_never_migrated_lacks_every_migration(url: str):
    assert set(await pending_migrations_at(url, [PROJECTS_APP])) == committed_migrations([PROJECTS_APP])

    assert set(await migrate_pending(url, [PROJECTS_APP])) == committed_migrations([PROJECTS_APP])

    assert await pending_migrations_at(url, [PROJECTS_APP]) == ()
    assert await migrate_pending(url, [PROJECTS_APP]) == ()  # nothing left: nothing run
    # Gatehouse's own migrated, a module added later: only the module's is pending.
    assert await pending_migrations_at(url) == ()


async def test_a_module_added_later_is_pending_alone(url: str):
    await migrate_pending(url)

    assert await pending_migrations_at(url, [PROJECTS_APP]) == (
        "tests_helpers_modules_projects.0001_initial",
    )


async def test_check_migrations_refuses_only_when_start_up_will_not_migrate(url: str):
    refusing = make_settings(database_url=url, migrate_on_start=False)
    migrating = make_settings(database_url=url, migrate_on_start=True)

    line = await check_migrations(refusing)
    assert line is not None and "python main.py migrate" in line
    assert await check_migrations(migrating) is None

    await migrate_pending(url)
    assert await check_migrations(refusing) is None


def test_processes_migrating_at_once_apply_each_migration_once(url: str):
    """Four processes' worth of `apply_migrations` at once (uvicorn workers starting with
    MIGRATE_ON_START=on): without the lock all but one fail on tables that already exist."""
    import subprocess
    import sys

    from tests.helpers.processes import ROOT

    script = (
        "import asyncio, sys\n"
        "from core.db import apply_migrations\n"
        "from tortoise import Tortoise\n"
        "async def main():\n"
        "    try:\n"
        "        await apply_migrations(sys.argv[1])\n"
        "    finally:\n"
        "        await Tortoise.close_connections()\n"
        "asyncio.run(main())\n"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]  # fmt: skip
    errors = [run.communicate(timeout=120)[1] for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0, 0], errors
    assert asyncio.run(pending_migrations_at(url)) == ()


async def test_the_lifespan_refuses_a_database_that_lacks_migrations(url: str):
    app = create_app(make_settings(database_url=url, migrate_on_start=False))

    with pytest.raises(MigrationsPending, match=r"python main\.py migrate") as refused:
        async with app.router.lifespan_context(app):
            pytest.fail("served a database without its tables")

    assert "models.0001_initial" in str(refused.value)
    assert await pending_migrations_at(url) != ()  # nothing was migrated


async def test_the_lifespan_migrates_with_migrate_on_start_and_serves(url: str):
    settings = make_settings(database_url=url, migrate_on_start=True)
    async with app_client(settings) as client:
        health = await client.get("/healthz")
        account = {"username": "first", "email": "first@example.com", "password": STRONG_PASSWORD}
        registered = await gql(client, REGISTER, {"input": account})

    assert health.status_code == 200, health.text
    assert not registered.errors and registered.data["register"]["user"]["username"] == "first"
    assert await pending_migrations_at(url) == ()


async def test_a_schema_modules_pending_migration_is_refused_too(url: str):
    """A database holding Gatehouse's migrations but not a module's is refused alike."""
    await apply_migrations(url)
    await Tortoise.close_connections()
    app = create_app(
        make_settings(
            database_url=url, migrate_on_start=False, schema_modules=("tests.helpers.modules.projects",)
        )
    )

    with pytest.raises(MigrationsPending, match=r"tests_helpers_modules_projects\.0001_initial"):
        async with app.router.lifespan_context(app):
            pytest.fail("served a module without its tables")
