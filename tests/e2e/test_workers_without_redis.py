"""Several processes on one database without Redis: caches never outlive a revocation.

Without Redis, SQLite workers on one host share a generation stamp file next to the
database, and PostgreSQL instances do not cache at all: either way the second process
refuses a credential as soon as the first has revoked it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.helpers import STRONG_PASSWORD, TEST_DATABASE_URL, TEST_SECRET
from tests.helpers.processes import GatehouseServer, servers

pytestmark = pytest.mark.server

ME = "{ me { username roles } }"
REGISTER = """mutation($u: String!, $e: String!) { register(input: {username: $u, email: $e,
  password: "%s", transport: BEARER}) { user { id } accessToken } }""".replace("%s", STRONG_PASSWORD)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def _post(client, server, query, variables=None, token=None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post(
        server.url + "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def _register(client, server, username) -> dict:
    answer = await _post(client, server, REGISTER, {"u": username, "e": f"{username}@example.com"})
    return answer.json()["data"]["register"]


async def _warm_then_revoke_elsewhere(client, a: GatehouseServer, b: GatehouseServer) -> None:
    user = await _register(client, a, "gina")
    for _ in range(4):  # the first reads learn the owner; the next ones are served from B's cache
        assert (await _post(client, b, ME, token=user["accessToken"])).status_code == 200
    assert (await _post(client, a, "mutation { logout }", token=user["accessToken"])).status_code == 200
    assert (await _post(client, b, ME, token=user["accessToken"])).status_code == 401


async def test_sqlite_workers_without_redis_never_serve_a_revoked_credential(tmp_path, client):
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/shared.db", "SECRET_KEY": TEST_SECRET, "BCRYPT_ROUNDS": "4"}
    with GatehouseServer(env) as a, GatehouseServer(env) as b:  # A migrates the file, then B joins
        await _warm_then_revoke_elsewhere(client, a, b)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL")
async def test_postgres_instances_without_redis_never_serve_a_revoked_credential(clean_backends, client):
    env = {"DATABASE_URL": TEST_DATABASE_URL or "", "SECRET_KEY": TEST_SECRET, "BCRYPT_ROUNDS": "4"}
    with servers(2, env) as (a, b):
        await _warm_then_revoke_elsewhere(client, a, b)
