"""A wrong DATABASE_URL or REDIS_URL stops start-up with one clear line, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.preflight import redact_url
from tests.helpers import TEST_SECRET
from tests.helpers.processes import ROOT, free_port


def _serve(env: dict[str, str], command: str = "serve") -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "SECRET_KEY": TEST_SECRET, "PORT": str(free_port())}
    return subprocess.run(
        [sys.executable, "main.py", command],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_unreachable_database_names_the_variable(command, tmp_path):
    done = _serve({"DATABASE_URL": f"postgres://someone:hunter2@127.0.0.1:{free_port()}/nothing"}, command)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "DATABASE_URL" in lines[0]
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr  # the password is redacted


def test_malformed_database_url_names_the_variable():
    done = _serve({"DATABASE_URL": "mysql//nonsense"})
    assert done.returncode != 0
    assert "DATABASE_URL" in done.stderr and "Traceback" not in done.stderr


def test_unreachable_redis_names_the_variable(tmp_path):
    done = _serve(
        {"DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite3", "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "REDIS_URL" in lines[0], done.stderr


def test_malformed_redis_url_names_the_variable(tmp_path):
    done = _serve({"DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite3", "REDIS_URL": "http://example.invalid"})
    assert done.returncode != 0
    assert "REDIS_URL" in done.stderr and "Traceback" not in done.stderr


def test_redact_url_hides_passwords_only():
    assert redact_url("postgres://u:secret@h:5432/d") == "postgres://u:***@h:5432/d"
    assert redact_url("postgres://u@h:5432/d") == "postgres://u@h:5432/d"
    assert redact_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
