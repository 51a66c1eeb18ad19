"""The module's table: its committed migration matches the model, `python main.py migrate`
applies it beside Gatehouse's (SQLite, and PostgreSQL with TEST_DATABASE_URL), and a
note goes with its owner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tortoise import Tortoise
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from core.db import tortoise_config
from examples.notes.models import Note
from schema.modules import load_modules, model_apps
from tests.examples.notes.documents import NOTES, SCHEMA_MODULES, call, create_note
from tests.helpers import TEST_DATABASE_URL, TEST_SECRET, Persona
from tests.helpers.processes import ROOT

APP_LABEL = "examples_notes"


def notes_config(database_url: str) -> dict:
    """Gatehouse's Tortoise config with the example's app, as `migrate` builds it."""
    return tortoise_config(database_url, apps=model_apps(load_modules(SCHEMA_MODULES)))


async def test_the_committed_migrations_match_the_model() -> None:
    """What `tortoise -c main.TORTOISE_ORM makemigrations` would write for the module: nothing."""
    config = notes_config("sqlite://:memory:")
    async with TortoiseContext() as context:
        await context.init(config=config)
        writers = await MigrationAutodetector(context.apps, config["apps"]).changes()
    pending = [(w.app_label, [type(op).__name__ for op in w.operations]) for w in writers]
    assert [p for p in pending if p[0] == APP_LABEL] == [], pending


def migrate(database_url: str) -> subprocess.CompletedProcess[str]:
    """`python main.py migrate` with the example module in the environment."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": database_url,
        "SCHEMA_MODULES": ",".join(SCHEMA_MODULES),
        "SECRET_KEY": TEST_SECRET,
    }
    return subprocess.run(
        [sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


async def columns_and_record(database_url: str) -> tuple[set[str], list[dict]]:
    """The notes table's columns and Tortoise's record of the module's migrations."""
    await Tortoise.init(config=notes_config(database_url))
    try:
        connection = Tortoise.get_connection("default")
        if database_url.startswith("sqlite://"):
            rows = await connection.execute_query_dict("PRAGMA table_info(notes)")
            columns = {row["name"] for row in rows}
            placeholder = "?"
        else:
            rows = await connection.execute_query_dict(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes' "
                "AND table_schema = current_schema()"
            )
            columns = {row["column_name"] for row in rows}
            placeholder = "$1"
        record = await connection.execute_query_dict(
            f"SELECT name FROM tortoise_migrations WHERE app = {placeholder}", [APP_LABEL]
        )
        return columns, record
    finally:
        await Tortoise.close_connections()


async def test_migrate_applies_the_modules_migrations_once(tmp_path: Path, clean_backends: None) -> None:
    database_url = TEST_DATABASE_URL or f"sqlite://{tmp_path / 'notes.db'}"
    for _ in range(2):  # a second run finds nothing to do
        done = migrate(database_url)
        assert done.returncode == 0, done.stderr
        assert "migrations applied" in done.stdout
    columns, record = await columns_and_record(database_url)
    assert columns == {"id", "owner_id", "title", "body", "created_at", "updated_at"}
    assert record == [{"name": "0001_initial"}]


async def test_a_users_notes_go_with_the_user(http, alice: Persona, alice_jwt, bob_jwt) -> None:
    from models import User

    await create_note(http, alice_jwt)
    kept = await create_note(http, bob_jwt)
    await User.filter(id=alice.id).delete()
    assert [str(note.id) for note in await Note.all()] == [kept["id"]]
    assert len((await call(http, NOTES, bob_jwt)).data["notes"]) == 1
