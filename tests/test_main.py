"""The command line: sub-commands, create-admin (password from stdin only), export-schema."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import main
from app.factory import create_app
from tests.helpers import LOGIN, OTHER_PASSWORD, REGISTER, STRONG_PASSWORD, TEST_SECRET, gql, make_settings

MAIN = Path(main.__file__).resolve()
ROOT = MAIN.parent
TIMEOUT = 60  # seconds; each command takes well under a second


def run_cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python main.py ARGS` with a minimal, explicit environment (no inherited settings)."""
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or {},
        cwd=cwd or ROOT,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


@pytest.fixture
def cli_env(db_file: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite://{db_file}", "SECRET_KEY": TEST_SECRET, "BCRYPT_ROUNDS": "4"}


def create_admin(
    cli_env: dict[str, str], cwd: Path, stdin: str, username: str = "root", *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "create-admin", "--username", username, "--email", f"{username}@example.com", *extra,
        stdin=stdin, env=cli_env, cwd=cwd,
    )  # fmt: skip


def user_rows(db_file: Path) -> list[dict[str, Any]]:
    """Users as stored in the SQLite file (none when the file or table does not exist)."""
    if not db_file.exists():
        return []
    with sqlite3.connect(db_file) as connection:
        connection.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in connection.execute("SELECT username, roles, is_active FROM users")]
        except sqlite3.OperationalError:
            return []


async def login(db_file: Path, login_name: str, password: str) -> dict[str, Any] | None:
    """Log in through the real app on `db_file`; the `login` payload, or None when refused."""
    app = create_app(make_settings(database_url=f"sqlite://{db_file}"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            result = await gql(
                client, LOGIN, {"input": {"login": login_name, "password": password, "transport": "BEARER"}}
            )
    return result.data["login"] if result.data else None


# -- help ---------------------------------------------------------------------------


def test_help_lists_the_sub_commands():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "migrate", "create-admin", "rotate-keys", "export-schema"):
        assert command in result.stdout


def test_create_admin_help_offers_no_password_option():
    result = run_cli("create-admin", "--help")
    assert result.returncode == 0
    assert "--username" in result.stdout and "--email" in result.stdout
    assert "--promote" in result.stdout
    assert "--password" not in result.stdout


# -- create-admin -------------------------------------------------------------------


async def test_create_admin_reads_one_line_from_stdin(cli_env, db_file, tmp_path, clean_backends):
    result = create_admin(cli_env, tmp_path, f"{STRONG_PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert "created admin root" in result.stdout
    assert STRONG_PASSWORD not in result.stdout + result.stderr
    payload = await login(db_file, "root", STRONG_PASSWORD)
    assert payload is not None
    assert payload["user"]["roles"] == ["admin"]


async def test_create_admin_accepts_a_matching_second_line(cli_env, db_file, tmp_path, clean_backends):
    result = create_admin(cli_env, tmp_path, f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert [(r["username"], r["is_active"]) for r in user_rows(db_file)] == [("root", 1)]
    assert "admin" in user_rows(db_file)[0]["roles"]
    payload = await login(db_file, "root@example.com", STRONG_PASSWORD)
    assert payload is not None and "admin" in payload["user"]["roles"]


def test_create_admin_refuses_a_mismatching_second_line(cli_env, db_file, tmp_path):
    result = create_admin(cli_env, tmp_path, f"{STRONG_PASSWORD}\n{OTHER_PASSWORD}\n")
    assert result.returncode != 0
    assert "repeat" in result.stderr
    assert STRONG_PASSWORD not in result.stdout + result.stderr
    assert OTHER_PASSWORD not in result.stdout + result.stderr
    assert user_rows(db_file) == []


@pytest.mark.parametrize("stdin", ["", "\n"])
def test_create_admin_refuses_an_empty_stdin(cli_env, db_file, tmp_path, stdin):
    result = create_admin(cli_env, tmp_path, stdin)
    assert result.returncode != 0
    assert "password" in result.stderr
    assert user_rows(db_file) == []


def test_create_admin_never_takes_the_password_from_the_command_line(cli_env, db_file, tmp_path):
    result = create_admin(cli_env, tmp_path, "", "root", "--password", STRONG_PASSWORD)
    assert result.returncode == 2
    assert user_rows(db_file) == []


def test_create_admin_refuses_a_weak_password(cli_env, db_file, tmp_path):
    result = create_admin(cli_env, tmp_path, "password123\n")
    assert result.returncode == 1
    assert "password:" in result.stderr
    assert "password123" not in result.stderr
    assert user_rows(db_file) == []


async def test_create_admin_promotes_an_existing_user(cli_env, db_file, tmp_path, clean_backends):
    app = create_app(make_settings(database_url=f"sqlite://{db_file}"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            registered = await gql(
                client,
                REGISTER,
                {
                    "input": {
                        "username": "carol",
                        "email": "carol@example.com",
                        "password": OTHER_PASSWORD,
                        "transport": "BEARER",
                    }
                },
            )
    assert registered.status == 200, registered.body
    assert registered.data["register"]["user"]["roles"] == []

    refused = create_admin(cli_env, tmp_path, f"{STRONG_PASSWORD}\n", "carol")
    assert refused.returncode == 1 and "--promote" in refused.stderr  # never silently
    assert "admin" not in user_rows(db_file)[0]["roles"]

    result = create_admin(cli_env, tmp_path, f"{STRONG_PASSWORD}\n", "carol", "--promote")
    assert result.returncode == 0, result.stderr
    assert "promoted admin carol" in result.stdout
    rows = user_rows(db_file)
    assert len(rows) == 1 and "admin" in rows[0]["roles"]

    payload = await login(db_file, "carol", STRONG_PASSWORD)
    assert payload is not None
    assert payload["user"]["id"] == registered.data["register"]["user"]["id"]
    assert payload["user"]["roles"] == ["admin"]
    assert await login(db_file, "carol", OTHER_PASSWORD) is None  # the password was reset


async def test_create_admin_twice_keeps_one_admin_role(cli_env, db_file, tmp_path, clean_backends):
    assert create_admin(cli_env, tmp_path, f"{STRONG_PASSWORD}\n").returncode == 0
    assert create_admin(cli_env, tmp_path, f"{STRONG_PASSWORD}\n").returncode == 1  # exists: refused
    second = create_admin(cli_env, tmp_path, f"{STRONG_PASSWORD}\n", "root", "--promote")
    assert second.returncode == 0, second.stderr
    assert "promoted" in second.stdout
    payload = await login(db_file, "root", STRONG_PASSWORD)
    assert payload is not None and payload["user"]["roles"] == ["admin"]


# -- start-up refusals --------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "too-short"])
def test_production_serve_refuses_a_missing_or_short_secret_key(tmp_path, db_file, secret):
    env = {"APP_ENV": "production", "DATABASE_URL": f"sqlite://{db_file}", "PORT": "1"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    if secret:
        assert secret not in result.stderr
    assert not (tmp_path / ".secret_key").exists()


def test_bad_database_url_is_named(tmp_path):
    result = run_cli(
        "migrate", env={"DATABASE_URL": "mysql://x@y/z", "SECRET_KEY": TEST_SECRET}, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_migrate_creates_the_tables(tmp_path, db_file, cli_env):
    result = run_cli("migrate", env=cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db_file) as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "credentials", "refresh_tokens"} <= tables


# -- rotate-keys --------------------------------------------------------------------


def signing_key_rows(db_file: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(db_file) as connection:
        return list(connection.execute("SELECT kid, retired_at FROM signing_keys ORDER BY created_at"))


def age_signing_keys(db_file: Path, seconds: float = 60) -> None:
    """Move every key's times `seconds` into the past: the keys were added that long ago
    (a subprocess's clock cannot be moved), so their publication lead is over."""
    with sqlite3.connect(db_file) as connection:
        for kid, created_at, activates_at in list(
            connection.execute("SELECT kid, created_at, activates_at FROM signing_keys")
        ):
            earlier = [
                None if value is None else str(datetime.fromisoformat(value) - timedelta(seconds=seconds))
                for value in (created_at, activates_at)
            ]
            connection.execute(
                "UPDATE signing_keys SET created_at = ?, activates_at = ? WHERE kid = ?", (*earlier, kid)
            )


def test_rotate_keys_adds_a_key_and_retires_an_old_one(tmp_path, db_file, cli_env):
    first = run_cli("rotate-keys", env=cli_env, cwd=tmp_path)
    second = run_cli("rotate-keys", env=cli_env, cwd=tmp_path)
    assert first.returncode == second.returncode == 0, (first.stderr, second.stderr)
    (old, _), (new, _) = signing_key_rows(db_file)
    assert f"added EdDSA key {old}: the first key, it signs at once" in first.stdout
    assert f"added EdDSA key {new}: published now; it signs from " in second.stdout
    age_signing_keys(db_file)  # the new key's lead is over: it signs now

    refused = run_cli("rotate-keys", f"--retire={new}", env=cli_env, cwd=tmp_path)
    assert refused.returncode == 1
    assert "signs now" in refused.stderr and "rotate-keys" in refused.stderr
    unknown = run_cli("rotate-keys", "--retire=no-such-kid", env=cli_env, cwd=tmp_path)
    assert unknown.returncode == 1 and "no live EdDSA signing key" in unknown.stderr
    # A kid is a base64url thumbprint and may begin with "-": written with "=", it is
    # still a kid (as `--retire -abc` argparse would take for an option).
    dashed = run_cli("rotate-keys", "--retire=-no-such-kid", env=cli_env, cwd=tmp_path)
    assert dashed.returncode == 1 and "no live EdDSA signing key" in dashed.stderr

    retired = run_cli("rotate-keys", f"--retire={old}", env=cli_env, cwd=tmp_path)
    assert retired.returncode == 0, retired.stderr
    assert [(kid, at is not None) for kid, at in signing_key_rows(db_file)] == [(old, True), (new, False)]
    again = run_cli("rotate-keys", f"--retire={old}", env=cli_env, cwd=tmp_path)
    assert again.returncode == 1


def test_rotate_keys_with_an_empty_retire_is_refused_not_taken_for_a_rotation(tmp_path, db_file, cli_env):
    # `--retire=$KID` with KID unset: the operator meant to retire, never to add a key.
    assert run_cli("rotate-keys", env=cli_env, cwd=tmp_path).returncode == 0
    before = signing_key_rows(db_file)
    refused = run_cli("rotate-keys", "--retire=", env=cli_env, cwd=tmp_path)
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert "no live EdDSA signing key has kid ''" in refused.stderr
    assert "added" not in refused.stdout
    assert signing_key_rows(db_file) == before


def test_rotate_keys_refuses_a_secret_key_that_cannot_open_the_key_that_signs_now(tmp_path, db_file, cli_env):
    assert run_cli("rotate-keys", env=cli_env, cwd=tmp_path).returncode == 0
    ((signing, _),) = signing_key_rows(db_file)
    other = "another-secret-key-that-is-long-enough-9876543"
    refused = run_cli("rotate-keys", env={**cli_env, "SECRET_KEY": other}, cwd=tmp_path)
    assert refused.returncode == 1
    said = [line for line in refused.stderr.splitlines() if line.startswith("gatehouse:")]
    assert len(said) == 1 and said[0].startswith("gatehouse: refused") and "SECRET_KEY" in said[0]
    assert "Traceback" not in refused.stderr and other not in refused.stderr
    assert [kid for kid, _ in signing_key_rows(db_file)] == [signing]  # nothing added
    # After a SECRET_KEY rotation, the old key in PREVIOUS_SECRET_KEYS opens it: allowed.
    rotated = {**cli_env, "SECRET_KEY": other, "PREVIOUS_SECRET_KEYS": TEST_SECRET}
    allowed = run_cli("rotate-keys", env=rotated, cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert len(signing_key_rows(db_file)) == 2


def test_rotate_keys_refuses_to_retire_the_only_key_its_secret_key_signs_with(tmp_path, db_file, cli_env):
    assert run_cli("rotate-keys", env=cli_env, cwd=tmp_path).returncode == 0
    other = {**cli_env, "SECRET_KEY": "another-secret-key-that-is-long-enough-9876543"}
    foreign = run_cli("rotate-keys", "--despite-unreadable-keys", env=other, cwd=tmp_path)
    assert foreign.returncode == 0, foreign.stderr
    (signing, _), (newest, _) = signing_key_rows(db_file)
    age_signing_keys(db_file)

    # Under TEST_SECRET the newest does not decrypt: `signing` is what really signs.
    refused = run_cli("rotate-keys", f"--retire={signing}", env=cli_env, cwd=tmp_path)
    assert refused.returncode == 1
    said = [line for line in refused.stderr.splitlines() if line.startswith("gatehouse:")]
    assert len(said) == 1 and said[0].startswith("gatehouse: refused") and "rotate-keys" in said[0]
    assert "Traceback" not in refused.stderr
    assert [(kid, at) for kid, at in signing_key_rows(db_file)] == [(signing, None), (newest, None)]

    # Where the newest decrypts (the machine that added it), the retirement goes ahead.
    retired = run_cli("rotate-keys", f"--retire={signing}", env=other, cwd=tmp_path)
    assert retired.returncode == 0, retired.stderr
    assert [(kid, at is None) for kid, at in signing_key_rows(db_file)] == [(signing, False), (newest, True)]


def test_rotate_keys_activate_after_publishes_now_and_signs_later(tmp_path, db_file, cli_env):
    assert run_cli("rotate-keys", env=cli_env, cwd=tmp_path).returncode == 0
    age_signing_keys(db_file)
    before = datetime.now(UTC)
    later = run_cli("rotate-keys", "--activate-after=330", env=cli_env, cwd=tmp_path)
    assert later.returncode == 0, later.stderr
    (old, _), (new, _) = signing_key_rows(db_file)
    with sqlite3.connect(db_file) as connection:
        ((stored,),) = connection.execute("SELECT activates_at FROM signing_keys WHERE kid = ?", (new,))
    activates_at = datetime.fromisoformat(stored)
    assert before + timedelta(seconds=330) <= activates_at <= datetime.now(UTC) + timedelta(seconds=330)
    said = activates_at.replace(microsecond=0).isoformat()
    assert f"added EdDSA key {new}: published now; it signs from {said}" in later.stdout

    # Until then the old key signs: it is not retired meanwhile, nor is the new one.
    refused = run_cli("rotate-keys", f"--retire={old}", env=cli_env, cwd=tmp_path)
    assert refused.returncode == 1
    assert f"{old} is the key that signs now, until {new} signs from {said}" in refused.stderr
    assert run_cli("rotate-keys", f"--retire={new}", env=cli_env, cwd=tmp_path).returncode == 1
    assert [at for _, at in signing_key_rows(db_file)] == [None, None]


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "604801", ""])
def test_rotate_keys_refuses_an_activation_delay_that_is_no_whole_seconds_in_range(
    tmp_path, db_file, cli_env, value
):
    result = run_cli("rotate-keys", f"--activate-after={value}", env=cli_env, cwd=tmp_path)
    assert result.returncode == 2 and "--activate-after" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db_file.exists() or signing_key_rows(db_file) == []


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("--activate-after=60", "--activate-after says when a new key signs"),
        ("--despite-unreadable-keys", "--despite-unreadable-keys lets rotate-keys add a key"),
    ],
)
def test_rotate_keys_refuses_an_option_of_an_addition_with_retire(tmp_path, db_file, cli_env, option, said):
    # Ignored, the option would let the operator believe it did something: refused, and
    # the key is not retired either.
    assert run_cli("rotate-keys", env=cli_env, cwd=tmp_path).returncode == 0
    assert run_cli("rotate-keys", env=cli_env, cwd=tmp_path).returncode == 0
    age_signing_keys(db_file)
    (old, _), _ = signing_key_rows(db_file)
    for order in ((f"--retire={old}", option), (option, f"--retire={old}")):
        refused = run_cli("rotate-keys", *order, env=cli_env, cwd=tmp_path)
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.strip() == f"gatehouse: {said}; it does not go with --retire (nothing changed)"
        assert [at for _, at in signing_key_rows(db_file)] == [None, None]
        assert len(signing_key_rows(db_file)) == 2


def test_rotate_keys_makes_keys_of_the_configured_algorithm(tmp_path, db_file, cli_env):
    result = run_cli("rotate-keys", env={**cli_env, "JWT_ALGORITHM": "ES256"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "added ES256 key" in result.stdout


def test_rotate_keys_refuses_hs256(tmp_path, cli_env):
    result = run_cli("rotate-keys", env={**cli_env, "JWT_ALGORITHM": "HS256"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr and "PREVIOUS_SECRET_KEYS" in result.stderr


# -- export-schema ------------------------------------------------------------------


def test_export_schema_writes_the_committed_file(tmp_path):
    schema_file = ROOT / "schema.graphql"
    before = schema_file.read_text()
    try:
        result = run_cli("export-schema", env={}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        after = schema_file.read_text()
        assert after == main.export_sdl()
        assert after == before, "schema.graphql was stale: commit the freshly exported file"
    finally:
        if schema_file.read_text() != before:
            schema_file.write_text(before)  # leave the failure visible to test_schema_file too


@pytest.mark.parametrize(
    "manifest",
    ['{"' + "0" * 64 + '": "{ me { id } }"}', "not json"],
    ids=["hash-of-another-document", "unreadable"],
)
def test_serve_refuses_a_bad_persisted_query_manifest_in_one_line(cli_env, tmp_path, manifest):
    path = tmp_path / "manifest.json"
    path.write_text(manifest)
    env = {**cli_env, "PERSISTED_QUERIES": "only", "PERSISTED_QUERIES_FILE": str(path), "PORT": "1"}
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("gatehouse:")]
    assert len(errors) == 1 and "PERSISTED_QUERIES_FILE" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
