"""Running production with no or a short `SECRET_KEY` (forgeable tokens): start-up stops
with a non-zero exit and a message naming `SECRET_KEY`, before serving anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import MIN_SECRET_BYTES, Settings, SettingsError

MAIN = Path(__file__).resolve().parents[2] / "main.py"
pytestmark = pytest.mark.server


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python main.py serve` in an empty directory (no `.env`, no `.secret_key`)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PREVIOUS_SECRET_KEYS")}
    clean.update({"APP_ENV": "production", "DATABASE_URL": "sqlite://:memory:", "PORT": "1", **env})
    clean.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, str(MAIN), "serve"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=20,
    )


@pytest.mark.parametrize("secret", [None, "short"], ids=["missing", "short"])
def test_production_refuses_to_start_without_a_strong_secret_key(tmp_path, secret):
    env = {} if secret is None else {"SECRET_KEY": secret}

    done = serve(tmp_path, **env)

    assert done.returncode != 0, done.stdout
    assert "SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Gatehouse on" not in done.stdout  # never got to serving
    assert not (tmp_path / ".secret_key").exists()  # no key was generated silently


@pytest.mark.parametrize("secret", ["", "x" * (MIN_SECRET_BYTES - 1)], ids=["empty", "one-byte-short"])
def test_empty_or_almost_long_enough_keys_are_refused(secret):
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({"APP_ENV": "production", "SECRET_KEY": secret})


def test_a_multibyte_key_is_measured_in_bytes():
    # 16 different two-byte characters, 32 bytes: long enough.
    key = "àáâãäåæçèéêëìíîï"
    Settings.from_env({"APP_ENV": "production", "SECRET_KEY": key})
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({"APP_ENV": "production", "SECRET_KEY": key[:15]})


def test_settings_built_directly_refuse_a_short_key_in_production():
    from core.settings import Secret

    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings(secret_key=Secret("short"), app_env="production")
