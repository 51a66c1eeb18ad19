"""Starting a real server (`python main.py serve`, `uvicorn --factory`) on a database that was
never migrated (contract section 14): production refuses in one line naming
`python main.py migrate`, MIGRATE_ON_START=on migrates and serves.

The suite's kind of database: on its PostgreSQL pass a new PostgreSQL database, where a
production start does not migrate by default; on SQLite a new file, which production
migrates at start unless MIGRATE_ON_START=off.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.db import committed_migrations
from tests.helpers import REGISTER, STRONG_PASSWORD, TEST_DATABASE_URL, free_port
from tests.helpers.backends import empty_database
from tests.helpers.processes import ROOT, GatehouseServer

pytestmark = pytest.mark.server

# What a production start on this suite's kind of database needs to refuse: nothing on
# PostgreSQL (the default), MIGRATE_ON_START=off on SQLite (which migrates by default).
REFUSING = {} if TEST_DATABASE_URL else {"MIGRATE_ON_START": "off"}
READ = ("SECRET_KEY", "PREVIOUS_", "BCRYPT", "REDIS", "ALLOWED_", "TRUSTED_", "MIGRATE_", "DATABASE_")


@pytest.fixture
def unmigrated(tmp_path: Path) -> Iterator[str]:
    with empty_database(tmp_path, "unmigrated") as url:
        yield url


def production_env(database_url: str, **env: str) -> dict[str, str]:
    """A production server's environment, nothing inherited that Gatehouse reads."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(READ)}
    return {
        **clean,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "PYTHONPATH": str(ROOT),
        **env,
    }


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def assert_refused_in_one_line(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "Gatehouse on" not in done.stdout  # never got as far as serving
    refusals = [line for line in done.stderr.splitlines() if line.startswith("gatehouse:")]
    assert len(refusals) == 1, done.stderr
    assert refusals == done.stderr.strip().splitlines()[-1:], done.stderr  # the last word, alone
    assert "python main.py migrate" in refusals[0] and "MIGRATE_ON_START=on" in refusals[0]
    assert "models.0001_initial" in refusals[0]


def test_a_production_start_on_an_unmigrated_database_is_refused_in_one_line(unmigrated: str, tmp_path: Path):
    done = run(
        [sys.executable, str(ROOT / "main.py"), "serve"], production_env(unmigrated, **REFUSING), tmp_path
    )

    assert_refused_in_one_line(done)


def test_the_uvicorn_factory_refuses_an_unmigrated_database_in_one_line_too(unmigrated: str, tmp_path: Path):
    env = production_env(unmigrated, **REFUSING)
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "app.asgi:create_from_env",
        "--port",
        env["PORT"],
    ]

    assert_refused_in_one_line(run(command, env, tmp_path))


def test_production_with_migrate_on_start_migrates_and_serves(unmigrated: str, tmp_path: Path):
    env = production_env(unmigrated, MIGRATE_ON_START="on")
    with GatehouseServer(env) as server:
        health = httpx.get(server.url + "/healthz", timeout=10)
        account = {"username": "first", "email": "first@example.com", "password": STRONG_PASSWORD}
        registered = httpx.post(
            server.url + "/graphql", json={"query": REGISTER, "variables": {"input": account}}, timeout=30
        )
        output = server.output()

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert registered.status_code == 200, registered.text
    assert registered.json()["data"]["register"]["user"]["username"] == "first"
    assert f"applied {len(committed_migrations())} migration(s): models.0001_initial" in output

    # Migrated: the same production start without MIGRATE_ON_START now serves.
    env = {k: v for k, v in env.items() if k != "MIGRATE_ON_START"}
    with GatehouseServer({**env, **REFUSING, "PORT": str(free_port())}) as again:
        assert httpx.get(again.url + "/healthz", timeout=10).status_code == 200
        assert "applied" not in again.output()


def development_env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(READ)}
    return {
        **clean,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite://{tmp_path / 'gatehouse.db'}",
    }


def test_a_port_in_use_is_said_in_one_line_without_the_banner(tmp_path: Path):
    """The same command started twice: the second says why in one line and exits."""
    env = development_env(tmp_path)
    with GatehouseServer(env) as first:
        done = run(
            [sys.executable, str(ROOT / "main.py"), "serve"], {**env, "PORT": str(first.port)}, tmp_path
        )
        still = httpx.get(first.url + "/healthz", timeout=10)

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""  # no "Gatehouse on ..." banner
    assert done.stderr.splitlines() == [
        f"gatehouse: cannot listen on 127.0.0.1:{first.port}: Address already in use"
    ]
    assert still.status_code == 200  # the first server was not disturbed


def test_start_up_prints_no_tortoise_lifecycle_line(tmp_path: Path):
    """Tortoise logs "Tortoise-ORM shutdown" when the start-up's own connections close
    (the migration check, the migration): that reads as a failure at start."""
    env = development_env(tmp_path)
    outputs = []
    for _ in range(2):  # the first start migrates the new file, the second finds nothing to do
        with GatehouseServer(env) as server:
            assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
            outputs.append(server.output())

    first, second = outputs
    assert "applied" in first and "applied" not in second
    for output in outputs:
        assert output.startswith("Gatehouse on http://127.0.0.1:"), output
        assert "Tortoise-ORM" not in output, output
        assert "shutdown" not in output.lower(), output


@pytest.mark.parametrize(
    "command",
    [["create-admin", "--username", "ops", "--email", "ops@example.com"], ["rotate-keys"]],
    ids=["create-admin", "rotate-keys"],
)
def test_commands_that_write_rows_name_migrate_on_an_unmigrated_database(
    unmigrated: str, tmp_path: Path, command: list[str]
):
    """PostgreSQL: one line naming `python main.py migrate`, not a database error; SQLite
    files are migrated by the command itself, which then does its work."""
    env = production_env(unmigrated)
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *command],
        cwd=tmp_path,
        env=env,
        input=f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    if not TEST_DATABASE_URL:
        assert done.returncode == 0, (done.stdout, done.stderr)
        return
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    refusals = [line for line in done.stderr.splitlines() if line.startswith("gatehouse:")]
    assert refusals == done.stderr.strip().splitlines()[-1:], done.stderr  # one line, the last word
    line = refusals[0]
    assert "run `python main.py migrate` first" in line, line
    assert "MIGRATE_ON_START" not in line and "models.0001_initial" in line
