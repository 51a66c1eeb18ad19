"""A stock verifier across a key rotation, against a real uvicorn process.

PyJWT's `PyJWKClient` reads the running server's `/.well-known/jwks.json` and verifies a
Gatehouse access token from the JWKS alone; `python main.py rotate-keys` (another process,
same database) adds a key, the server signs with it within its reload interval, both
tokens verify; `rotate-keys --retire` ends the old key and the server refuses the old
token while the new one still works. SQLite, or PostgreSQL + Redis with TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
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
    reset_postgres,
    reset_redis,
)
from tests.helpers.processes import GatehouseServer, wait_for

pytestmark = pytest.mark.server

MAIN = Path(main.__file__).resolve()
RELOAD_INTERVAL = 1  # seconds: JWT_KEYS_RELOAD_INTERVAL for this server
SEEN_WITHIN = 10.0  # seconds to wait for the server to see a rotation (a few intervals)


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    if TEST_DATABASE_URL:
        asyncio.run(reset_postgres(TEST_DATABASE_URL))
        database_url = TEST_DATABASE_URL
    else:
        database_url = f"sqlite://{tmp_path / 'gatehouse.db'}"
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "APP_ENV": "development",
        "JWT_ALGORITHM": "EdDSA",
        "JWT_KEYS_RELOAD_INTERVAL": str(RELOAD_INTERVAL),
    }
    if TEST_REDIS_URL:
        asyncio.run(reset_redis(TEST_REDIS_URL))
        env["REDIS_URL"] = TEST_REDIS_URL
    return env


@pytest.fixture
def server(environment: dict[str, str]) -> Iterator[GatehouseServer]:
    with GatehouseServer(environment) as running:
        yield running


def rotate_keys(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MAIN), "rotate-keys", *args],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def graphql(server: GatehouseServer, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
    response = httpx.post(
        server.url + "/graphql", json={"query": query, "variables": variables or {}}, timeout=10, **kw
    )
    return response


REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"


class Client:
    """A mobile client: signed in once, then refreshing (logins are rate-limited)."""

    def __init__(self, server: GatehouseServer) -> None:
        self.server = server
        variables = {"input": {"login": "alice", "password": STRONG_PASSWORD, "transport": "BEARER"}}
        response = graphql(server, LOGIN, variables)
        assert response.status_code == 200, response.text
        self.access_token = str(response.json()["data"]["login"]["accessToken"])
        self.refresh_token = str(response.json()["data"]["login"]["refreshToken"])

    def refresh(self) -> str:
        response = graphql(self.server, REFRESH, {"t": self.refresh_token})
        assert response.status_code == 200, response.text
        pair = response.json()["data"]["refreshToken"]
        self.access_token, self.refresh_token = pair["accessToken"], pair["refreshToken"]
        return self.access_token


def me(server: GatehouseServer, token: str) -> httpx.Response:
    return graphql(server, ME, headers={"Authorization": f"Bearer {token}"})


def verify_from_jwks(server: GatehouseServer, token: str) -> dict[str, Any]:
    """What a stock verifier does: the key from the JWKS by the token's kid, then PyJWT.
    A new client each time, so its cache never answers for the server."""
    client = jwt.PyJWKClient(server.url + "/.well-known/jwks.json", cache_jwk_set=False)
    key = client.get_signing_key_from_jwt(token)
    return dict(
        jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience="gatehouse",
            issuer="gatehouse",
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    )


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_a_stock_verifier_follows_a_rotation_and_a_retirement(server, environment):
    registered = graphql(
        server,
        REGISTER,
        {
            "input": {
                "username": "alice",
                "email": "alice@example.com",
                "password": STRONG_PASSWORD,
                "transport": "BEARER",
            }
        },
    )
    assert registered.status_code == 200, registered.text
    user_id = registered.json()["data"]["register"]["user"]["id"]

    client = Client(server)
    old_token = client.access_token
    old_kid = kid_of(old_token)
    claims = verify_from_jwks(server, old_token)
    assert claims["sub"] == user_id and claims["typ"] == "access"

    rotated = rotate_keys(environment)
    assert rotated.returncode == 0, rotated.stderr
    match = re.search(r"added EdDSA key ([A-Za-z0-9_-]+)", rotated.stdout)
    assert match, rotated.stdout
    new_kid = match.group(1)
    assert new_kid != old_kid

    # The server signs with the new key once it reloads (within its interval).
    assert wait_for(lambda: kid_of(client.refresh()) == new_kid, SEEN_WITHIN, interval=0.3)
    new_token = client.access_token
    # A stock verifier takes both from the JWKS alone; the server accepts both.
    assert verify_from_jwks(server, new_token)["sub"] == user_id
    assert verify_from_jwks(server, old_token)["sub"] == user_id
    assert me(server, old_token).json()["data"]["me"]["id"] == user_id
    assert me(server, new_token).json()["data"]["me"]["id"] == user_id

    # The key that signs now cannot be retired.
    refused = rotate_keys(environment, f"--retire={new_kid}")
    assert refused.returncode == 1 and "signs now" in refused.stderr

    retired = rotate_keys(environment, f"--retire={old_kid}")
    assert retired.returncode == 0, retired.stderr
    assert wait_for(lambda: me(server, old_token).status_code == 401, SEEN_WITHIN), server.output()
    answer = me(server, old_token)
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    # Gone from the JWKS too: a stock verifier no longer finds its key.
    jwks = httpx.get(server.url + "/.well-known/jwks.json", timeout=10).json()
    assert [key["kid"] for key in jwks["keys"]] == [new_kid]
    with pytest.raises(jwt.PyJWKClientError):
        verify_from_jwks(server, old_token)
    # The new key's token is untouched.
    assert me(server, new_token).json()["data"]["me"]["id"] == user_id
    assert verify_from_jwks(server, new_token)["sub"] == user_id


def test_another_instance_verifies_a_new_key_s_token_before_its_own_reload(environment):
    """Instance B reloads only every 60 s; a token signed by instance A with a key added
    after B started makes B reload once (the unknown-kid path) and verifies at once."""
    with GatehouseServer(environment) as a, GatehouseServer(
        {**environment, "JWT_KEYS_RELOAD_INTERVAL": "60"}
    ) as b:
        registered = graphql(
            a,
            REGISTER,
            {
                "input": {
                    "username": "alice",
                    "email": "alice@example.com",
                    "password": STRONG_PASSWORD,
                    "transport": "BEARER",
                }
            },
        )
        assert registered.status_code == 200, registered.text
        client = Client(a)
        rotated = rotate_keys(environment)
        assert rotated.returncode == 0, rotated.stderr
        new_kid = re.search(r"added EdDSA key ([A-Za-z0-9_-]+)", rotated.stdout).group(1)  # type: ignore[union-attr]
        assert wait_for(lambda: kid_of(client.refresh()) == new_kid, SEEN_WITHIN, interval=0.3)
        assert new_kid not in httpx.get(b.url + "/.well-known/jwks.json", timeout=10).text  # not reloaded
        answer = me(b, client.access_token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["me"]["username"] == "alice"
        assert new_kid in httpx.get(b.url + "/.well-known/jwks.json", timeout=10).text
