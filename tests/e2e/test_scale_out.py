"""Several instances act as one: two real servers sharing PostgreSQL and Redis.

Runs in the PostgreSQL + Redis pass of the suite (TEST_DATABASE_URL and TEST_REDIS_URL set).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.helpers import STRONG_PASSWORD, TEST_DATABASE_URL, TEST_REDIS_URL, TEST_SECRET
from tests.helpers.processes import GatehouseServer, servers

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        not (TEST_DATABASE_URL and TEST_REDIS_URL), reason="needs TEST_DATABASE_URL and TEST_REDIS_URL"
    ),
]

REGISTER = """mutation($u: String!, $t: Transport) { register(input: {username: $u, email: "%s",
  password: "%s", transport: $t}) { user { id } accessToken refreshToken } }"""
LOGIN = """mutation($l: String!, $p: String!, $t: Transport) {
  login(input: {login: $l, password: $p, transport: $t}) { user { id } accessToken refreshToken } }"""
ME = "{ me { username roles } }"


@pytest.fixture
def pair(clean_backends: None) -> Iterator[tuple[GatehouseServer, GatehouseServer]]:
    env = {
        "DATABASE_URL": TEST_DATABASE_URL or "",
        "REDIS_URL": TEST_REDIS_URL or "",
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        # Fifty registrations from one client in a second: not what these tests are about.
        "REGISTER_LIMIT_PER_IP": "1000/minute",
    }
    with servers(2, env) as (a, b):
        yield a, b


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def call(
    http: httpx.AsyncClient,
    server: GatehouseServer,
    query: str,
    variables: dict | None = None,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> httpx.Response:
    headers = dict(headers or {})
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    http.cookies.clear()  # each call sends exactly the cookies it names
    return await http.post(
        server.url + "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def register(http, server, username, transport="BEARER") -> httpx.Response:
    return await call(
        http,
        server,
        REGISTER % (f"{username}@example.com", STRONG_PASSWORD),
        {"u": username, "t": transport},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_credentials_from_one_instance_work_and_die_on_the_other(pair, client):
    a, b = pair
    tokens = (await register(client, a, "alice")).json()["data"]["register"]
    assert (await call(client, b, ME, headers=bearer(tokens["accessToken"]))).json()["data"]["me"][
        "username"
    ] == "alice"

    cookie_login = await call(client, a, LOGIN, {"l": "alice", "p": STRONG_PASSWORD, "t": "COOKIE"})
    session = {"session": cookie_login.cookies["session"]}
    assert (await call(client, b, ME, cookies=session)).json()["data"]["me"]["username"] == "alice"

    assert (await call(client, b, "mutation { logout }", headers=bearer(tokens["accessToken"]))).json()[
        "data"
    ]
    gone = await call(client, a, ME, headers=bearer(tokens["accessToken"]))
    assert gone.status_code == 401
    refreshed = await call(
        client,
        a,
        "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }",
        {"r": tokens["refreshToken"]},
    )
    assert refreshed.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    assert (await call(client, a, "mutation { logout }", cookies=session)).json()["data"] == {"logout": True}
    assert (await call(client, b, ME, cookies=session)).json()["data"] == {"me": None}


async def test_failed_logins_count_against_one_limit_across_instances(pair, client):
    a, b = pair
    await register(client, a, "carol")
    codes = []
    for attempt in range(12):
        server = a if attempt % 2 == 0 else b
        answer = await call(client, server, LOGIN, {"l": "carol", "p": "wrong password here", "t": "BEARER"})
        codes.append(answer.json()["errors"][0]["extensions"]["code"])
    assert "RATE_LIMITED" in codes
    first_limited = codes.index("RATE_LIMITED")
    # One shared counter: the limit is reached after the per-account budget in total,
    # not per instance (each instance alone saw only half of the attempts).
    assert first_limited <= 6, codes
    assert all(code == "RATE_LIMITED" for code in codes[first_limited:]), codes


async def test_role_granted_on_one_instance_holds_on_the_other_at_once(pair, client):
    a, b = pair
    from tortoise import Tortoise

    from core.db import tortoise_config

    admin_tokens = (await register(client, a, "boss")).json()["data"]["register"]
    await Tortoise.init(config=tortoise_config(TEST_DATABASE_URL or ""))
    try:
        await Tortoise.get_connection("default").execute_query(
            "UPDATE users SET roles = '[\"admin\"]' WHERE username_key = 'boss'"
        )
    finally:
        await Tortoise.close_connections()
    user_tokens = (await register(client, b, "dave")).json()["data"]["register"]
    users_query = "{ users(first: 5) { totalCount } }"
    before = await call(client, b, users_query, headers=bearer(user_tokens["accessToken"]))
    assert before.status_code == 403

    grant = 'mutation($id: ID!) { grantRole(userId: $id, role: "admin") { roles } }'
    granted = await call(
        client, a, grant, {"id": user_tokens["user"]["id"]}, headers=bearer(admin_tokens["accessToken"])
    )
    assert granted.json()["data"]["grantRole"]["roles"] == ["admin"]
    after = await call(client, b, users_query, headers=bearer(user_tokens["accessToken"]))
    assert after.status_code == 200 and after.json()["data"]["users"]["totalCount"] == 2

    revoke = 'mutation($id: ID!) { revokeRole(userId: $id, role: "admin") { roles } }'
    await call(
        client, b, revoke, {"id": user_tokens["user"]["id"]}, headers=bearer(admin_tokens["accessToken"])
    )
    assert (await call(client, a, users_query, headers=bearer(user_tokens["accessToken"]))).status_code == 403


async def test_fifty_concurrent_registrations_of_one_name_make_one_account(pair, client):
    a, b = pair
    answers = await asyncio.gather(
        *(
            call(
                client,
                (a, b)[i % 2],
                REGISTER % (f"racer{i}@example.com", STRONG_PASSWORD),
                {"u": "racer", "t": "BEARER"},
            )
            for i in range(50)
        )
    )
    assert all(answer.status_code == 200 for answer in answers), [
        x.text for x in answers if x.status_code != 200
    ]
    winners = [x for x in answers if x.json().get("data")]
    losers = [x for x in answers if not x.json().get("data")]
    assert len(winners) == 1
    for loser in losers:
        error = loser.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "username" in error["extensions"]["fields"]


async def test_concurrent_refreshes_give_at_most_one_new_pair(pair, client):
    a, b = pair
    tokens = (await register(client, a, "erin")).json()["data"]["register"]
    refresh = "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken refreshToken } }"
    answers = await asyncio.gather(
        *(call(client, (a, b)[i % 2], refresh, {"r": tokens["refreshToken"]}) for i in range(6))
    )
    assert all(answer.status_code in (200, 401) for answer in answers)
    successes = [x.json()["data"]["refreshToken"] for x in answers if x.json().get("data")]
    assert len(successes) <= 1
    # The losers were treated as reuse: the whole family is gone, winner's pair included.
    for pair_ in successes:
        assert (await call(client, a, ME, headers=bearer(pair_["accessToken"]))).status_code == 401


async def test_logout_everywhere_racing_requests_leaves_no_usable_credential(pair, client):
    a, b = pair
    first = (await register(client, a, "frank")).json()["data"]["register"]
    logins = await asyncio.gather(
        *(
            call(client, (a, b)[i % 2], LOGIN, {"l": "frank", "p": STRONG_PASSWORD, "t": "BEARER"})
            for i in range(4)
        )
    )
    pairs = [first] + [x.json()["data"]["login"] for x in logins]
    refresh = "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken refreshToken } }"
    racing = [call(client, (a, b)[i % 2], ME, headers=bearer(p["accessToken"])) for i, p in enumerate(pairs)]
    racing += [
        call(client, (b, a)[i % 2], refresh, {"r": p["refreshToken"]}) for i, p in enumerate(pairs[1:])
    ]
    results = await asyncio.gather(
        call(client, b, "mutation { logout(everywhere: true) }", headers=bearer(first["accessToken"])),
        *racing,
    )
    assert all(r.status_code in (200, 401) for r in results), [r.text for r in results]
    rotated = [
        r.json()["data"]["refreshToken"]
        for r in results[1 + len(pairs) :]
        if (r.json().get("data") or {}).get("refreshToken")
    ]
    for token_pair in pairs + rotated:
        for server in (a, b):
            assert (
                await call(client, server, ME, headers=bearer(token_pair["accessToken"]))
            ).status_code == 401
            again = await call(client, server, refresh, {"r": token_pair["refreshToken"]})
            assert again.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
