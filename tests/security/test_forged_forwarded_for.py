"""Forged or garbled `X-Forwarded-For` hops and odd peers.

Issue 10, case 9: a 100-character `X-Forwarded-For` from a trusted proxy answered 500 on
PostgreSQL: the text was taken for the client's address and stored in `credentials.ip`
(`varchar(64)`). Every hop is parsed as an address; one that is not ends the walk, and
the client is the last address believed (the nearest trusted proxy). Nothing that is not
an address is stored, logged as an IP or counted as one; a user agent loses control
characters. Run over the ASGI app and over real uvicorn, on both databases.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models import Credential
from tests.helpers import (
    GRAPHQL,
    LOGIN,
    STRONG_PASSWORD,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    OpenApp,
    gql,
    login_variables,
    make_persona,
    make_settings,
    reset_postgres,
    run,
)
from tests.helpers.processes import GatehouseServer

GARBLED = [
    "x" * 100,  # the report
    "203.0.113.9, " + "y" * 100,
    "unknown",
    "1.2.3.4.5",
    "[2001:db8::1",
    "203.0.113.9:notaport",
    "\u00e9\u00e9\u00e9",
    ", , ,",
    ("198.51.100.1, " * 1000)[:-2],  # many hops
]


async def sign_in(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    result = await gql(client, LOGIN, login_variables("alice", STRONG_PASSWORD), headers, cookies=False)
    assert result.status == 200 and result.data["login"]["accessToken"], result.body


async def signed_in_ip(client: httpx.AsyncClient, headers: dict[str, str]) -> str | None:
    """The IP stored with the credential a sign-in with `headers` creates."""
    await Credential.all().delete()
    await sign_in(client, headers)
    [row] = await Credential.all()
    return row.ip


@pytest.mark.parametrize("forwarded", GARBLED)
async def test_a_garbled_hop_is_never_taken_for_the_client(open_app: OpenApp, forwarded: str, caplog):
    client = await open_app(make_settings())  # the ASGI client is 127.0.0.1, a trusted proxy
    await make_persona(client, "alice")
    with caplog.at_level(logging.INFO):
        # As bytes: a header is latin-1 on the wire, which httpx only sends that way.
        ip = await signed_in_ip(client, {"X-Forwarded-For": forwarded.encode("latin-1")})  # type: ignore[dict-item]
    assert ip == ("198.51.100.1" if forwarded.startswith("198.51.100.1, ") else "127.0.0.1")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("forwarded", "client_ip"),
    [
        ("garbage, 203.0.113.9", "203.0.113.9"),  # the right-most hop is the proxy's: believed
        ("203.0.113.9, 10.0.0.2", "203.0.113.9"),  # 10.0.0.2 is a trusted proxy, skipped
        ("203.0.113.9, garbage, 10.0.0.2", "10.0.0.2"),  # stops at the garbled hop
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("[2001:DB8::9]:4711", "2001:db8::9"),
        ("2001:db8::1%" + "z" * 20, "2001:db8::1"),  # a zone id names the sender's interface
    ],
)
async def test_hops_are_read_from_the_right_as_addresses(open_app: OpenApp, forwarded: str, client_ip: str):
    client = await open_app(make_settings(trusted_proxies=("127.0.0.1", "10.0.0.0/24")))
    await make_persona(client, "alice")
    assert await signed_in_ip(client, {"X-Forwarded-For": forwarded}) == client_ip


@pytest.mark.parametrize("peer", ["x" * 100, "unix:/run/gatehouse.sock", "", "::ffff:999.1.1.1"])
async def test_a_peer_that_is_no_address_is_stored_as_none(open_app: OpenApp, peer: str):
    # uvicorn's own proxy handling hands the app any text a trusted proxy forwarded.
    client = await open_app(make_settings(), client=(peer, 1))
    await make_persona(client, "alice")
    assert await signed_in_ip(client, {}) is None


async def test_control_characters_never_reach_the_stored_user_agent(open_app: OpenApp):
    client = await open_app(make_settings())
    await make_persona(client, "alice")
    await Credential.all().delete()
    await sign_in(client, {"User-Agent": "agent\x7f/1.0 \x01" + "u" * 400})
    [row] = await Credential.all()
    assert row.user_agent == "agent/1.0 " + "u" * 244


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatehouseServer, str]]:
    """`python main.py serve` behind a trusted proxy (the test client, 127.0.0.1)."""
    workdir = tmp_path_factory.mktemp("forwarded")
    if TEST_DATABASE_URL:
        run(reset_postgres(TEST_DATABASE_URL))
    database_url = TEST_DATABASE_URL or f"sqlite://{Path(workdir) / 'forwarded.db'}"
    env = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL or "",
        "BCRYPT_ROUNDS": "4",
    }
    with GatehouseServer(env) as running:
        yield running, database_url


async def _ips_in(database_url: str) -> list[str | None]:
    from tortoise import Tortoise

    from core.db import tortoise_config

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        return [row.ip for row in await Credential.all().order_by("created_at")]
    finally:
        await Tortoise.close_connections()


@pytest.mark.server
def test_over_real_uvicorn_a_long_forwarded_for_signs_in_and_stores_the_proxy(server):
    running, database_url = server
    headers = {"Content-Type": "application/json"}
    register = {
        "query": "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }",
        "variables": {"i": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}},
    }
    with httpx.Client(base_url=running.url, timeout=10) as client:
        for forwarded in ("x" * 100, "203.0.113.9, " + "y" * 100):
            client.cookies.clear()  # each sign-in its own: a new one ends the cookie's session
            response = client.post(
                GRAPHQL, content=json.dumps(register), headers={**headers, "X-Forwarded-For": forwarded}
            )
            assert response.status_code == 200 and not response.json().get("errors"), response.text
            register["variables"]["i"] = {  # type: ignore[index]
                "username": "dave",
                "email": "dave@example.com",
                "password": STRONG_PASSWORD,
            }
        login = {"query": LOGIN, "variables": login_variables("carol", STRONG_PASSWORD)}
        client.cookies.clear()
        response = client.post(
            GRAPHQL,
            content=json.dumps(login),
            headers={**headers, "X-Forwarded-For": "2001:db8::7%" + "z" * 100},
        )
        assert response.status_code == 200, response.text
    assert run(_ips_in(database_url)) == ["127.0.0.1", "127.0.0.1", "127.0.0.1"]
    assert "Traceback" not in running.output()
