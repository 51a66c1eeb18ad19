"""Start-up with stored signing keys this instance cannot sign with (app/preflight.py):
`python main.py serve` and `uvicorn --factory app.asgi:create_from_env`, as real processes
on the suite's database (PostgreSQL when TEST_DATABASE_URL is set, else a SQLite file),
stop with one line naming the cause and the way out, and exit 2, never a traceback.

The keys are made by the real `rotate-keys` under one SECRET_KEY; the server starts under
another, or finds every live row damaged.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import Tortoise

from core.db import tortoise_config
from models import SigningKey
from tests.helpers import LOGIN, STRONG_PASSWORD, login_variables
from tests.helpers.processes import ROOT, GatehouseServer, free_port, fresh_server_environment

pytestmark = pytest.mark.server

TIMEOUT = 60  # seconds; a refusal comes well within a second or two
STORED_UNDER = "the-secret-key-the-keys-were-stored-under-01234"
ENTRY_POINTS = {
    "main.py serve": ["main.py", "serve"],
    "uvicorn --factory": ["-m", "uvicorn", "--factory", "app.asgi:create_from_env", "--host", "127.0.0.1"],
}
REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }"""


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    port = str(free_port())
    extra = ["--port", port] if "uvicorn" in args else []
    return subprocess.run(
        [sys.executable, *args, *extra],
        cwd=ROOT,
        # BCRYPT_ROUNDS of production: no development warning, so stderr is the refusal alone.
        env={**env, "BCRYPT_ROUNDS": "10", "HOST": "127.0.0.1", "PORT": port, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def store_keys(env: dict[str, str], count: int) -> list[str]:
    """`count` keys added by the real `rotate-keys` under STORED_UNDER; their kids."""
    kids = []
    for _ in range(count):
        done = run(["main.py", "rotate-keys"], {**env, "SECRET_KEY": STORED_UNDER})
        assert done.returncode == 0, done.stderr
        kids.append(done.stdout.split()[3].rstrip(":"))
    return kids


def update_rows(database_url: str, **values: Any) -> None:
    """Write `values` into every signing-key row (damage them), as a broken restore would."""

    async def update() -> None:
        await Tortoise.init(config=tortoise_config(database_url))
        try:
            await SigningKey.all().update(**values)
        finally:
            await Tortoise.close_connections()

    asyncio.run(update())


def assert_refused_in_one_line(done: subprocess.CompletedProcess[str], *, live: int) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert line.startswith(f"gatehouse: none of the {live} live EdDSA signing keys can sign here")
    assert "SECRET_KEY they were stored under" in line and "--despite-unreadable-keys" in line
    assert "Traceback" not in done.stderr and "Application startup" not in done.stderr
    assert STORED_UNDER not in done.stderr


@pytest.mark.parametrize("entry", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_keys_stored_under_another_secret_key_stop_start_up_in_one_line(tmp_path, entry):
    env = fresh_server_environment(tmp_path)
    kids = store_keys(env, 2)
    done = run(entry, env)
    assert_refused_in_one_line(done, live=2)
    assert not any(kid in done.stderr for kid in kids)
    # Under the SECRET_KEY that stored them, the same database serves.
    with GatehouseServer({**env, "SECRET_KEY": STORED_UNDER}) as server:
        published = httpx.get(server.url + "/.well-known/jwks.json").json()["keys"]
        assert {key["kid"] for key in published} == set(kids)


@pytest.mark.parametrize(
    "damage",
    [{"private_jwe": "not-a-jwe"}, {"public_jwk": {"kty": "OKP"}}],
    ids=["private-part", "public-jwk"],
)
def test_damaged_rows_stop_start_up_in_one_line_even_under_their_own_secret_key(tmp_path, damage):
    env = fresh_server_environment(tmp_path)
    store_keys(env, 1)
    update_rows(env["DATABASE_URL"], **damage)
    done = run(ENTRY_POINTS["main.py serve"], {**env, "SECRET_KEY": STORED_UNDER})
    assert_refused_in_one_line(done, live=1)


def test_the_way_out_the_refusal_names_when_the_old_secret_key_is_lost(tmp_path):
    env = fresh_server_environment(tmp_path)
    (lost,) = store_keys(env, 1)
    refused = run(["main.py", "rotate-keys"], env)  # the usual guard still holds ...
    assert refused.returncode == 1 and "--despite-unreadable-keys" in refused.stderr
    added = run(["main.py", "rotate-keys", "--despite-unreadable-keys"], env)  # ... until asked
    assert added.returncode == 0, added.stderr
    new = added.stdout.split()[3].rstrip(":")

    with GatehouseServer(env) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        published = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
        assert published == {lost, new}  # the unreadable key still verifies until retired
        variables = {
            "input": {
                "username": "lia",
                "email": "lia@example.com",
                "password": STRONG_PASSWORD,
                "transport": "BEARER",
            }
        }
        registered = client.post("/graphql", json={"query": REGISTER, "variables": variables}).json()
        assert registered["data"]["register"]["accessToken"], registered  # signed with the new key
        login = client.post(
            "/graphql", json={"query": LOGIN, "variables": login_variables("lia", STRONG_PASSWORD)}
        ).json()
        assert login["data"]["login"]["accessToken"], login


def test_a_database_without_keys_yet_starts_and_makes_the_first(tmp_path: Path):
    env = fresh_server_environment(tmp_path)
    with GatehouseServer(env) as server:
        assert len(httpx.get(server.url + "/.well-known/jwks.json").json()["keys"]) == 1
