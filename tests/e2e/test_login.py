"""`login` through the real app: username or email, both transports, one answer for every failure."""

from __future__ import annotations

import pytest

from tests.helpers import (
    GRAPHQL,
    LOGIN,
    ME,
    PLAIN_CHALLENGE,
    STRONG_PASSWORD,
    Persona,
    bearer,
    cookie_attributes,
    cookie_header,
    cookie_login,
    gql,
    make_persona,
    session_cookie_value,
    set_cookie_headers,
)


def _login(login: str, password: str = STRONG_PASSWORD, transport: str = "COOKIE") -> dict[str, object]:
    return {"input": {"login": login, "password": password, "transport": transport}}


@pytest.mark.parametrize("login", ["alice", "ALICE", "Alice", "alice@example.com", "Alice@EXAMPLE.com"])
async def test_login_by_username_or_email_ignoring_case(http, alice: Persona, login: str):
    result = await gql(http, LOGIN, _login(login, transport="BEARER"), cookies=False)
    assert result.status == 200, result.body
    assert result.data["login"]["user"]["id"] == alice.id


async def test_cookie_login_sets_the_session_cookie(http, alice: Persona):
    result = await gql(http, LOGIN, _login("alice"))

    assert result.status == 200, result.body
    payload = result.data["login"]
    assert payload["accessToken"] is None and payload["refreshToken"] is None
    attributes = cookie_attributes(result)
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "lax"
    assert attributes["path"] == "/"
    me = await gql(http, ME)
    assert me.data["me"]["id"] == alice.id


async def test_bearer_login_returns_tokens_and_sets_no_cookie(http, alice: Persona):
    result = await gql(http, LOGIN, _login("alice", transport="BEARER"), cookies=False)

    assert result.status == 200, result.body
    payload = result.data["login"]
    assert payload["accessToken"] and payload["refreshToken"]
    assert payload["accessToken"] != payload["refreshToken"]
    assert payload["tokenType"] == "Bearer"
    assert 0 < payload["expiresIn"] <= 3600
    assert set_cookie_headers(result) == []
    me = await gql(http, ME, headers=bearer(payload["accessToken"]), cookies=False)
    assert me.data["me"]["id"] == alice.id


async def test_each_login_gets_a_new_session_id_and_the_old_one_ends(http, alice: Persona):
    first, _ = await cookie_login(http, "alice")
    second, _ = await cookie_login(http, "alice")  # the jar still sends `first` here

    assert first != second
    old = await gql(http, ME, headers=cookie_header(first), cookies=False)
    assert old.status == 200
    assert old.data == {"me": None}
    new = await gql(http, ME, headers=cookie_header(second), cookies=False)
    assert new.data["me"]["id"] == alice.id


async def test_login_as_someone_else_ends_the_previous_session(http, alice: Persona, bob: Persona):
    first, _ = await cookie_login(http, "alice")
    await cookie_login(http, "bob")
    me = await gql(http, ME)
    assert me.data["me"]["id"] == bob.id
    old = await gql(http, ME, headers=cookie_header(first), cookies=False)
    assert old.data == {"me": None}


async def test_two_logins_from_different_clients_keep_both_sessions(http, alice: Persona):
    first, _ = await cookie_login(http, "alice")
    http.cookies.clear()
    second, _ = await cookie_login(http, "alice")
    for value in (first, second):
        me = await gql(http, ME, headers=cookie_header(value), cookies=False)
        assert me.data["me"]["id"] == alice.id


async def test_failed_logins_are_indistinguishable(http, alice: Persona, inactive_user: Persona):
    async def attempt(login: str, password: str):
        return await http.post(
            GRAPHQL, json={"query": LOGIN, "variables": _login(login, password)}, cookies=None
        )

    unknown = await attempt("nobody", STRONG_PASSWORD)
    wrong = await attempt("alice", "not the right password at all")
    disabled = await attempt("dormant", STRONG_PASSWORD)
    unknown_email = await attempt("nobody@example.com", STRONG_PASSWORD)

    for response in (unknown, wrong, disabled, unknown_email):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == PLAIN_CHALLENGE
        assert response.content == unknown.content
        assert "set-cookie" not in response.headers
    body = unknown.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_right_password_of_disabled_account_is_refused(http, inactive_user: Persona):
    result = await gql(http, LOGIN, _login("dormant", transport="BEARER"), cookies=False)
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]


async def test_passwords_longer_than_72_bytes_are_never_truncated(http):
    # 90 characters, 100+ bytes: bcrypt alone would only read the first 72 bytes.
    password = "Gl\u00fchw\u00fcrmchen-orbit-Saffron-quiver-" * 3
    assert len(password.encode()) > 72
    await make_persona(http, "longpass", password)

    ok = await gql(http, LOGIN, _login("longpass", password, "BEARER"), cookies=False)
    assert ok.status == 200, ok.body

    same_prefix = password.encode()[:72].decode(errors="ignore") + "something else entirely"
    assert same_prefix.encode()[:72] == password.encode()[:72]
    wrong = await gql(http, LOGIN, _login("longpass", same_prefix, "BEARER"), cookies=False)
    assert wrong.status == 401
    assert wrong.codes == ["UNAUTHENTICATED"]

    truncated = await gql(http, LOGIN, _login("longpass", password[:-1], "BEARER"), cookies=False)
    assert truncated.status == 401


async def test_password_is_normalised_the_same_at_set_and_at_check(http):
    # "Å" as one code point when set, as A + combining ring when checked (NFKC makes them equal).
    composed = "\u00c5ngstr\u00f6m-lantern-velvet"
    decomposed = "A\u030angstro\u0308m-lantern-velvet"
    await make_persona(http, "angstrom", composed)
    result = await gql(http, LOGIN, _login("angstrom", decomposed, "BEARER"), cookies=False)
    assert result.status == 200, result.body


async def test_login_with_a_stale_cookie_still_works(http, alice: Persona):
    stale = "A" * 43
    result = await gql(http, LOGIN, _login("alice"), headers=cookie_header(stale), cookies=False)
    assert result.status == 200, result.body
    new = session_cookie_value(result)
    assert new and new != stale
