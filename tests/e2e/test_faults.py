"""Faults: the database or Redis goes away and comes back.

Each test runs its own private PostgreSQL or redis-server on a spare port and stops it;
the machine's shared services are never touched.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.helpers import STRONG_PASSWORD, TEST_SECRET
from tests.helpers.processes import (
    ROOT,
    GatehouseServer,
    PrivatePostgres,
    PrivateRedis,
    postgres_available,
    wait_for,
)

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not postgres_available(), reason="PostgreSQL server binaries are not installed"),
]

DB_TIMEOUT = 2  # seconds; requests must fail within this (plus a little), never hang

REGISTER = f"""mutation($u: String!) {{ register(input: {{username: $u, email: "fault@example.com",
  password: "{STRONG_PASSWORD}", transport: BEARER}}) {{ accessToken refreshToken user {{ id }} }} }}"""
LOGIN = f"""mutation {{ login(input: {{login: "fault", password: "{STRONG_PASSWORD}", transport: BEARER}})
  {{ accessToken }} }}"""
ME = "{ me { username } }"


def _post(url: str, query: str, headers: dict[str, str] | None = None, variables: dict | None = None):
    return httpx.post(
        url + "/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
    )


def _migrate(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()


@pytest.fixture
def postgres():
    with PrivatePostgres() as pg:
        _migrate(pg.url)
        yield pg


def test_database_outage_fails_fast_and_recovers(postgres: PrivatePostgres):
    env = {
        "DATABASE_URL": postgres.url,
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "DB_TIMEOUT": str(DB_TIMEOUT),
    }
    with GatehouseServer(env) as server:
        registered = _post(server.url, REGISTER, variables={"u": "fault"}).json()["data"]["register"]
        auth = {"Authorization": f"Bearer {registered['accessToken']}"}
        assert _post(server.url, ME, auth).json()["data"]["me"]["username"] == "fault"

        postgres.stop()

        started = time.monotonic()
        health = httpx.get(server.url + "/healthz", timeout=30)
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable", "reason": "the database does not answer"}
        assert time.monotonic() - started < DB_TIMEOUT + 3

        for query, headers in ((ME, auth), (LOGIN, None)):
            started = time.monotonic()
            answer = _post(server.url, query, headers)
            assert time.monotonic() - started < DB_TIMEOUT + 3, "a request hung while the database was down"
            assert answer.status_code == 503, answer.text
            body = answer.json()
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert "Traceback" not in answer.text

        postgres.start()

        assert wait_for(lambda: httpx.get(server.url + "/healthz", timeout=5).status_code == 200, timeout=30)
        assert wait_for(lambda: _post(server.url, ME, auth).status_code == 200, timeout=30)
        assert _post(server.url, ME, auth).json()["data"]["me"]["username"] == "fault"


def test_redis_outage_never_lets_a_revoked_credential_in(postgres: PrivatePostgres):
    with PrivateRedis() as redis:
        env = {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "SECRET_KEY": TEST_SECRET,
            "BCRYPT_ROUNDS": "4",
            "DB_TIMEOUT": str(DB_TIMEOUT),
        }
        with GatehouseServer(env) as server:
            registered = _post(server.url, REGISTER, variables={"u": "fault"}).json()["data"]["register"]
            revoked = {"Authorization": f"Bearer {registered['accessToken']}"}
            assert _post(server.url, "mutation { logout }", revoked).json()["data"] == {"logout": True}
            fresh_token = _post(server.url, LOGIN).json()["data"]["login"]["accessToken"]
            live = {"Authorization": f"Bearer {fresh_token}"}

            redis.stop()

            answer = _post(server.url, ME, revoked)
            assert answer.status_code in (401, 503), answer.text
            assert "data" not in answer.json(), answer.text  # refused before anything executed
            # Revocation lives in the database, so a live credential keeps working.
            still = _post(server.url, ME, live)
            assert still.status_code in (200, 503)
            if still.status_code == 200:
                assert still.json()["data"]["me"]["username"] == "fault"

            redis.start()
            assert wait_for(lambda: _post(server.url, ME, live).status_code == 200, timeout=30)
            assert _post(server.url, ME, revoked).status_code == 401
