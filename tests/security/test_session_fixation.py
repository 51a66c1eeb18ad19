"""Session fixation: an attacker plants a session id in the victim's browser, then waits
for the victim to log in with it. Every login issues a fresh id; the planted or
previous one never becomes (or stays) authenticated."""

from __future__ import annotations

import httpx

from auth.secrets import SESSION_ID_PATTERN, new_secret
from tests.helpers import LOGIN, ME, OTHER_PASSWORD, STRONG_PASSWORD, gql, login_variables, make_persona


def set_session(result) -> str:
    for header in result.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == "session":
            return rest.split(";")[0]
    raise AssertionError(f"no session cookie set: {result.headers}")


async def login_with_cookie(http: httpx.AsyncClient, cookie: str, login: str = "alice"):
    return await gql(
        http,
        LOGIN,
        login_variables(login, STRONG_PASSWORD, "COOKIE"),
        headers={"Cookie": f"session={cookie}"},
        cookies=False,
    )


async def me_with(http: httpx.AsyncClient, cookie: str):
    return await gql(http, ME, headers={"Cookie": f"session={cookie}"}, cookies=False)


async def test_a_planted_session_id_is_never_adopted(http: httpx.AsyncClient, alice):
    planted = new_secret()  # well-formed, chosen by the attacker

    result = await login_with_cookie(http, planted)

    assert result.status == 200, result.body
    issued = set_session(result)
    assert issued != planted
    assert SESSION_ID_PATTERN.match(issued)
    assert (await me_with(http, planted)).data == {"me": None}
    assert (await me_with(http, issued)).data["me"]["username"] == "alice"


async def test_logging_in_again_replaces_and_ends_the_previous_session(http: httpx.AsyncClient, alice):
    first = set_session(await login_with_cookie(http, new_secret()))

    second_login = await login_with_cookie(http, first)

    second = set_session(second_login)
    assert second != first
    stale = await me_with(http, first)
    assert stale.data == {"me": None}
    assert (await me_with(http, second)).data["me"]["username"] == "alice"


async def test_another_user_logging_in_on_a_shared_browser_gets_a_new_session(http: httpx.AsyncClient, alice):
    await make_persona(http, "bob")
    alices = set_session(await login_with_cookie(http, new_secret(), "alice"))

    bobs = set_session(await login_with_cookie(http, alices, "bob"))

    assert bobs != alices
    assert (await me_with(http, bobs)).data["me"]["username"] == "bob"
    assert (await me_with(http, alices)).data == {"me": None}


async def test_a_failed_login_does_not_touch_the_existing_session(http: httpx.AsyncClient, alice):
    current = set_session(await login_with_cookie(http, new_secret()))
    failed = await gql(
        http,
        LOGIN,
        login_variables("alice", OTHER_PASSWORD, "COOKIE"),
        headers={"Cookie": f"session={current}"},
        cookies=False,
    )
    assert failed.status == 401
    assert not [
        h for h in failed.headers.get_list("set-cookie") if h.startswith("session=") and "Max-Age=0" not in h
    ]
    assert (await me_with(http, current)).data["me"]["username"] == "alice"


async def test_session_ids_are_long_random_and_httponly(http: httpx.AsyncClient, alice):
    result = await login_with_cookie(http, new_secret())
    ids = {set_session(result)}
    for _ in range(3):
        ids.add(set_session(await login_with_cookie(http, new_secret())))
    assert len(ids) == 4
    assert all(len(i) == 43 for i in ids)  # 256 bits, base64url
    header = next(h for h in result.headers.get_list("set-cookie") if h.startswith("session="))
    lowered = header.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
