"""Credentials kept by a shared or browser cache (proxies, back button): every response
that can carry a credential says `Cache-Control: no-store`."""

from __future__ import annotations

import httpx

from tests.helpers import GRAPHQL, LOGIN, REGISTER, STRONG_PASSWORD, bearer, gql, login_variables


def assert_not_stored(result) -> None:
    assert result.headers["cache-control"] == "no-store", result.headers
    assert result.headers["pragma"] == "no-cache"


async def test_sign_in_responses_are_not_stored(http: httpx.AsyncClient):
    registered = await gql(
        http,
        REGISTER,
        {
            "input": {
                "username": "alice",
                "email": "alice@example.com",
                "password": STRONG_PASSWORD,
                "transport": "BEARER",
            }
        },
        cookies=False,
    )
    assert registered.data["register"]["accessToken"]
    assert_not_stored(registered)

    for transport in ("BEARER", "COOKIE"):
        login = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD, transport), cookies=False)
        assert login.status == 200
        assert_not_stored(login)

    refreshed = await gql(
        http,
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
        {"t": registered.data["register"]["refreshToken"]},
        cookies=False,
    )
    assert refreshed.data["refreshToken"]["accessToken"]
    assert_not_stored(refreshed)

    created = await gql(
        http,
        'mutation { createApiToken(name: "ci") { token } }',
        headers=bearer(registered.data["register"]["accessToken"]),
        cookies=False,
    )
    assert created.data["createApiToken"]["token"]
    assert_not_stored(created)


async def test_errors_and_early_rejections_are_not_stored_either(http: httpx.AsyncClient):
    assert_not_stored(await gql(http, LOGIN, login_variables("nobody", STRONG_PASSWORD), cookies=False))
    assert_not_stored(
        await gql(http, "{ me { id } }", headers={"Authorization": "Bearer junk"}, cookies=False)
    )
    wrong_type = await http.post(GRAPHQL, content="x", headers={"Content-Type": "text/plain"})
    assert wrong_type.headers["cache-control"] == "no-store"
