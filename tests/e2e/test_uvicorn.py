"""A real uvicorn process (`python main.py serve`) driven over real HTTP.

The ASGI tests cannot catch what only a real server shows (the Tortoise context under
uvicorn's lifespan, real cookies, real headers), so the main flows run here once more.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import main
from tests.helpers import (
    LOGIN,
    ME,
    REGISTER,
    STRONG_PASSWORD,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    TEST_SECRET,
    free_port,
    reset_postgres,
    reset_redis,
)
from tests.helpers.processes import engine_environment

pytestmark = pytest.mark.server

MAIN = Path(main.__file__).resolve()
STARTUP_DEADLINE = 30.0  # seconds for the server to answer /healthz
REQUEST_TIMEOUT = 10.0  # seconds per request
LOGOUT = "mutation { logout }"


@dataclass
class Server:
    """A running `python main.py serve`."""

    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server did not become healthy in {STARTUP_DEADLINE}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module; each test uses its own usernames."""
    workdir = tmp_path_factory.mktemp("uvicorn")
    if TEST_DATABASE_URL:
        asyncio.run(reset_postgres(TEST_DATABASE_URL))  # also applies the migrations
        database_url = TEST_DATABASE_URL
    else:
        database_url = f"sqlite://{workdir / 'gatehouse.db'}"
    if TEST_REDIS_URL:
        asyncio.run(reset_redis(TEST_REDIS_URL))
    port = free_port()
    env = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "APP_ENV": "development",
        **engine_environment(),
    }
    if TEST_REDIS_URL:
        env["REDIS_URL"] = TEST_REDIS_URL
    log = workdir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(MAIN), "serve"], cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, log)
        yield Server(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def post(
    client: httpx.Client, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
) -> httpx.Response:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return client.post("/graphql", json=payload, **kwargs)


def credentials(username: str, transport: str) -> dict[str, Any]:
    return {"input": {"login": username, "password": STRONG_PASSWORD, "transport": transport}}


def registration(username: str, transport: str) -> dict[str, Any]:
    return {
        "input": {
            "username": username,
            "email": f"{username}@example.com",
            "password": STRONG_PASSWORD,
            "transport": transport,
        }
    }


def test_health(server: Server):
    response = httpx.get(f"{server.url}/healthz", timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_cookie_transport(server: Server):
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
        registered = post(client, REGISTER, registration("cookie_user", "COOKIE"))
        assert registered.status_code == 200, registered.text
        assert registered.json()["data"]["register"]["accessToken"] is None
        assert "session" in client.cookies
        client.cookies.clear()

        logged_in = post(client, LOGIN, credentials("cookie_user", "COOKIE"))
        assert logged_in.status_code == 200, logged_in.text
        assert logged_in.headers["cache-control"] == "no-store"
        set_cookie = logged_in.headers["set-cookie"].lower()
        assert set_cookie.startswith("session=")
        for attribute in ("httponly", "samesite=lax", "path=/"):
            assert attribute in set_cookie
        session_id = client.cookies["session"]
        assert session_id != registered.cookies.get("session")  # a new id at every login

        me = post(client, ME)
        assert me.status_code == 200
        assert me.json()["data"]["me"]["username"] == "cookie_user"

        logged_out = post(client, LOGOUT)
        assert logged_out.status_code == 200, logged_out.text
        assert logged_out.json()["data"] == {"logout": True}
        assert "session" not in client.cookies  # the server told the browser to drop it

        after = post(client, ME)
        assert after.status_code == 200
        assert after.json()["data"] == {"me": None}

        # Replaying the old cookie is anonymous, never an error, and the cookie is cleared again.
        client.cookies.set("session", session_id)
        replayed = post(client, ME)
        assert replayed.status_code == 200
        assert replayed.json()["data"] == {"me": None}
        assert "session=" in replayed.headers.get("set-cookie", "")


def test_bearer_transport(server: Server):
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
        registered = post(client, REGISTER, registration("bearer_user", "BEARER"))
        assert registered.status_code == 200, registered.text
        assert "set-cookie" not in registered.headers

        logged_in = post(client, LOGIN, credentials("bearer_user", "BEARER"))
        assert logged_in.status_code == 200, logged_in.text
        assert "set-cookie" not in logged_in.headers
        assert not client.cookies
        payload = logged_in.json()["data"]["login"]
        assert payload["tokenType"] == "Bearer"
        assert 0 < payload["expiresIn"] <= 3600
        access = {"Authorization": f"Bearer {payload['accessToken']}"}

        me = post(client, ME, headers=access)
        assert me.status_code == 200
        assert me.json()["data"]["me"]["username"] == "bearer_user"

        logged_out = post(client, LOGOUT, headers=access)
        assert logged_out.status_code == 200, logged_out.text
        assert logged_out.json()["data"] == {"logout": True}

        # Revocation is immediate: the unexpired access token is refused at once.
        after = post(client, ME, headers=access)
        assert after.status_code == 401, after.text
        assert after.headers["www-authenticate"] == 'Bearer realm="gatehouse", error="invalid_token"'
        body = after.json()
        assert "data" not in body, body  # refused before anything executed
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

        refreshed = post(
            client,
            "mutation R($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            {"t": payload["refreshToken"]},
        )
        assert refreshed.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    log = server.log_text()
    for secret in (STRONG_PASSWORD, payload["accessToken"], payload["refreshToken"]):
        assert secret not in log


def test_graphiql_in_development(server: Server):
    page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"}, timeout=REQUEST_TIMEOUT)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "graphiql" in page.text.lower()


def test_get_without_html_runs_queries_and_never_mutations(server: Server):
    """Section 6 over real uvicorn: the query string is read, a mutation is 405."""
    accept = {"Accept": "application/graphql-response+json"}
    query = httpx.get(f"{server.url}/graphql", params={"query": ME}, headers=accept, timeout=REQUEST_TIMEOUT)
    assert query.status_code == 200, query.text
    assert query.headers["content-type"].startswith("application/graphql-response+json")
    assert query.json() == {"data": {"me": None}}

    mutation = httpx.get(
        f"{server.url}/graphql", params={"query": LOGOUT}, headers=accept, timeout=REQUEST_TIMEOUT
    )
    assert mutation.status_code == 405 and mutation.headers["allow"] == "POST", mutation.text
    assert mutation.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
