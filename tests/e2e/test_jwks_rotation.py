"""A stock verifier across a key rotation, against real uvicorn processes.

PyJWT's `PyJWKClient`, caching the key set as it does by default, reads the running
server's `/.well-known/jwks.json` and verifies a Gatehouse access token from the JWKS
alone; `python main.py rotate-keys` (another process, same database) adds a key, which
every server publishes at once and signs with a few seconds later (PUBLICATION_LEAD);
the verifier meets the new kid, fetches the set again (once) and verifies it.
`rotate-keys --retire` ends the old key and the server refuses the old token while the
new one still works. With two servers on one database, the one that has not reloaded
publishes the new key before the other signs with it. SQLite, or PostgreSQL + Redis with
TEST_DATABASE_URL.
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
from auth.keyring import PUBLICATION_LEAD, PUBLISHED_SET_TTL
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
# Seconds to wait for the server to sign with a new key: its publication lead, and a
# few reload intervals.
SEEN_WITHIN = PUBLICATION_LEAD + 10.0


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


class Verifier(jwt.PyJWKClient):
    """A stock verifier as a service runs it: one `PyJWKClient` kept for its life, caching
    the key set (PyJWT's default, 300 s) and fetching it again for a kid it does not hold.
    Its refetch cooldown is 1 s instead of PyJWT's 30 (docs/TOKENS.md says what that
    means for a rotation) to keep the test short. `fetches` counts its reads of the set."""

    def __init__(self, server: GatehouseServer) -> None:
        super().__init__(server.url + "/.well-known/jwks.json", cooldown_duration=1)
        self.fetches = 0

    def fetch_data(self) -> Any:
        self.fetches += 1
        return super().fetch_data()


def verify_from_jwks(verifier: jwt.PyJWKClient, token: str) -> dict[str, Any]:
    """What a stock verifier does: the key from the JWKS by the token's kid, then PyJWT."""
    key = verifier.get_signing_key_from_jwt(token)
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


def jwks_kids(server: GatehouseServer) -> set[str]:
    return {key["kid"] for key in httpx.get(server.url + "/.well-known/jwks.json", timeout=10).json()["keys"]}


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
    verifier = Verifier(server)
    claims = verify_from_jwks(verifier, old_token)
    assert claims["sub"] == user_id and claims["typ"] == "access"
    assert verify_from_jwks(verifier, client.refresh())["sub"] == user_id
    assert verifier.fetches == 1  # the cached set serves the kid it holds

    rotated = rotate_keys(environment)
    assert rotated.returncode == 0, rotated.stderr
    match = re.search(r"added EdDSA key ([A-Za-z0-9_-]+): published now; it signs from ", rotated.stdout)
    assert match, rotated.stdout
    new_kid = match.group(1)
    assert new_kid != old_kid

    # The server signs with the new key once its lead is over and it has reloaded.
    assert wait_for(lambda: kid_of(client.refresh()) == new_kid, SEEN_WITHIN, interval=0.3)
    new_token = client.access_token
    # The verifier's cached set lacks the new kid: it fetches the set once more and
    # finds it there; both tokens verify from the JWKS alone; the server accepts both.
    assert verify_from_jwks(verifier, new_token)["sub"] == user_id
    assert verifier.fetches == 2
    assert verify_from_jwks(verifier, old_token)["sub"] == user_id
    assert verifier.fetches == 2
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
    # Gone from the JWKS too (read from the database at most PUBLISHED_SET_TTL seconds
    # ago): a verifier reading the set now no longer finds its key ...
    assert wait_for(lambda: jwks_kids(server) == {new_kid}, PUBLISHED_SET_TTL + 1, interval=0.2)
    with pytest.raises(jwt.PyJWKClientError):
        verify_from_jwks(Verifier(server), old_token)
    # ... while one that still holds the set it read before keeps the key until that copy
    # expires: from the JWKS alone a verifier sees a retirement only then (docs/TOKENS.md).
    assert verify_from_jwks(verifier, old_token)["sub"] == user_id
    # The new key's token is untouched.
    assert me(server, new_token).json()["data"]["me"]["id"] == user_id
    assert verify_from_jwks(verifier, new_token)["sub"] == user_id


def test_another_instance_publishes_a_new_key_before_any_signs_and_verifies_its_tokens(environment):
    """Instance B reloads only every 60 s, A every second. After a rotation B publishes the
    new key (its set is read from the database) before A signs with it; a verifier
    holding B's old set fetches B's set again for the new kid and finds it; a token A
    signed with the key makes B's ring reload once (the unknown-kid path) and verifies."""
    with (
        GatehouseServer(environment) as a,
        GatehouseServer({**environment, "JWT_KEYS_RELOAD_INTERVAL": "60"}) as b,
    ):
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
        user_id = registered.json()["data"]["register"]["user"]["id"]
        client = Client(a)
        old_kid = kid_of(client.access_token)
        verifier = Verifier(b)
        assert verify_from_jwks(verifier, client.access_token)["sub"] == user_id
        rotated = rotate_keys(environment)
        assert rotated.returncode == 0, rotated.stderr
        new_kid = re.search(r"added EdDSA key ([A-Za-z0-9_-]+)", rotated.stdout).group(1)  # type: ignore[union-attr]

        # Published by B within seconds, before A signs with it (PUBLICATION_LEAD after
        # the key was added: B has seconds to spare).
        assert wait_for(lambda: new_kid in jwks_kids(b), PUBLICATION_LEAD, interval=0.2)
        assert kid_of(client.refresh()) == old_kid

        # Every token A hands out meanwhile names a key B publishes by then.
        def signs_with_the_new_key() -> bool:
            kid = kid_of(client.refresh())
            assert kid in jwks_kids(b), (kid, "signed by A, not published by B")
            return kid == new_kid

        assert wait_for(signs_with_the_new_key, SEEN_WITHIN, interval=0.3)
        # The verifier's copy of B's set predates the key: it reads B's set again.
        assert verify_from_jwks(verifier, client.access_token)["sub"] == user_id
        assert verifier.fetches == 2
        answer = me(b, client.access_token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["me"]["username"] == "alice"
