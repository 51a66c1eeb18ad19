"""core/db.py with schema modules: their models are Tortoise apps with their own migrations,
applied with Gatehouse's by `python main.py migrate` (and at start on SQLite), on SQLite
and on PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise

from core.db import GATEHOUSE_APP, MIGRATIONS_TABLE, ModelApp, apply_migrations, tortoise_config
from schema.modules import load_modules, model_apps
from tests.helpers import TEST_DATABASE_URL, TEST_SECRET
from tests.helpers.backends import fresh_postgres_or_skip
from tests.helpers.processes import ROOT

PROJECTS = "tests.helpers.modules.projects"
PROJECTS_APP = ModelApp(
    "tests_helpers_modules_projects",
    ("tests.helpers.modules.projects.models",),
    "tests.helpers.modules.projects.migrations",
)


def test_the_config_holds_gatehouses_app_then_each_modules():
    config = tortoise_config("sqlite://:memory:", apps=[PROJECTS_APP])

    assert list(config["apps"]) == ["models", "tests_helpers_modules_projects"]
    assert config["apps"]["models"]["migrations"] == "models.migrations"
    assert config["apps"]["tests_helpers_modules_projects"] == {
        "models": ["tests.helpers.modules.projects.models"],
        "default_connection": "default",
        "migrations": "tests.helpers.modules.projects.migrations",
    }


def test_without_modules_the_config_is_gatehouses_alone():
    assert list(tortoise_config("sqlite://:memory:")["apps"]) == [GATEHOUSE_APP.label]


def test_the_loader_builds_the_same_app():
    assert model_apps(load_modules([PROJECTS])) == (PROJECTS_APP,)


def _sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _sqlite_applied(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute(f"SELECT app, name FROM {MIGRATIONS_TABLE}").fetchall()
    return {(app, name) for app, name in rows}


def test_apply_migrations_creates_a_modules_tables_on_sqlite(tmp_path: Path):
    path = tmp_path / "gatehouse.db"

    async def migrate() -> None:
        try:
            await apply_migrations(f"sqlite://{path}", [PROJECTS_APP])
        finally:
            await Tortoise.close_connections()

    asyncio.run(migrate())

    assert {"users", "credentials", "test_projects"} <= _sqlite_tables(path)
    assert ("tests_helpers_modules_projects", "0001_initial") in _sqlite_applied(path)
    assert ("models", "0001_initial") in _sqlite_applied(path)


def test_without_the_module_its_tables_are_not_created(tmp_path: Path):
    path = tmp_path / "gatehouse.db"

    async def migrate() -> None:
        try:
            await apply_migrations(f"sqlite://{path}")
        finally:
            await Tortoise.close_connections()

    asyncio.run(migrate())

    assert "users" in _sqlite_tables(path) and "test_projects" not in _sqlite_tables(path)


def _main_migrate(database_url: str, cwd: Path, modules: str = PROJECTS) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database_url,
        "SCHEMA_MODULES": modules,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "migrate"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_main_migrate_applies_gatehouses_and_the_modules_migrations_on_sqlite(tmp_path: Path):
    path = tmp_path / "gatehouse.db"

    finished = _main_migrate(f"sqlite://{path}", tmp_path)

    assert finished.returncode == 0, finished.stderr
    assert "test_projects" in _sqlite_tables(path)
    again = _main_migrate(f"sqlite://{path}", tmp_path)  # nothing left to apply
    assert again.returncode == 0, again.stderr


def test_main_migrate_refuses_a_bad_module_as_a_configuration_error(tmp_path: Path):
    finished = _main_migrate(
        f"sqlite://{tmp_path / 'gatehouse.db'}", tmp_path, "tests.helpers.modules.unmigrated"
    )

    assert finished.returncode == 2
    assert finished.stderr.startswith(
        "gatehouse: configuration error: SCHEMA_MODULES: tests.helpers.modules.unmigrated has MODELS "
        "but no migrations package"
    ), finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A new, empty database beside the suite's (dropped afterwards)."""
    with fresh_postgres_or_skip("modules") as url:
        yield url


def test_main_migrate_applies_the_modules_migrations_on_postgres(fresh_postgres: str, tmp_path: Path):
    import asyncpg

    finished = _main_migrate(fresh_postgres, tmp_path)
    assert finished.returncode == 0, finished.stderr

    async def read() -> tuple[set[str], set[tuple[str, str]]]:
        connection = await asyncpg.connect(fresh_postgres.replace("postgres://", "postgresql://", 1))
        try:
            tables = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            applied = await connection.fetch(f"SELECT app, name FROM {MIGRATIONS_TABLE}")
        finally:
            await connection.close()
        return {row["tablename"] for row in tables}, {(row["app"], row["name"]) for row in applied}

    tables, applied = asyncio.run(read())
    assert {"users", "credentials", "test_projects"} <= tables
    assert ("tests_helpers_modules_projects", "0001_initial") in applied


def test_main_tortoise_orm_is_the_config_for_tortoises_own_command_line(monkeypatch: pytest.MonkeyPatch):
    """`tortoise -c main.TORTOISE_ORM makemigrations` sees Gatehouse's app and every module's."""
    import main

    monkeypatch.setenv("SCHEMA_MODULES", PROJECTS)
    assert list(main.TORTOISE_ORM["apps"]) == ["models", "tests_helpers_modules_projects"]
    monkeypatch.setenv("SCHEMA_MODULES", "")
    assert list(main.TORTOISE_ORM["apps"]) == ["models"]


def test_main_tortoise_orm_refuses_a_bad_module_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys):
    import main

    monkeypatch.setenv("SCHEMA_MODULES", "tests.helpers.modules.unmigrated")
    with pytest.raises(SystemExit) as exited:
        main.TORTOISE_ORM  # noqa: B018 - computed on access

    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("gatehouse: configuration error: SCHEMA_MODULES: ")


async def test_an_app_on_postgresql_after_one_on_sqlite_in_one_process_writes(clean_backends: None):
    """Tortoise keeps compiled INSERTs by connection name, not dialect: without
    `forget_compiled_queries` at start, the second app sends SQLite's `?` placeholders to
    PostgreSQL (the signing key made at start, then every row)."""
    if not TEST_DATABASE_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL); CI sets it")
    from tests.helpers import app_client, make_persona, make_settings

    async with app_client(make_settings(database_url="sqlite://:memory:")) as on_sqlite:
        await make_persona(on_sqlite, "first_on_sqlite")
    async with app_client(make_settings()) as on_postgres:
        persona = await make_persona(on_postgres, "next_on_postgres")

    assert persona.username == "next_on_postgres"
