"""Revocation is immediate: for every credential kind and every way of ending it (logout,
revokeCredential, changePassword, resetPassword, deleteAccount, roles, deactivation), the
very next request with the old credential gets the new answer. Also refresh-token rotation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from core.clock import utcnow
from core.settings import Settings, parse_mail_url
from tests.helpers import (
    ALL_SCOPES,
    BASIC_CHALLENGE,
    BEARER_CHALLENGE,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    TOKEN_CHALLENGE,
    GQLResponse,
    Persona,
    basic,
    bearer,
    bearer_login,
    clears_cookie,
    cookie_header,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    make_settings,
    token,
)
from tests.helpers.account_mail import DELETE, RESET, reset_token
from tests.helpers.smtp import Mailbox

ME = "query { me { id roles } }"
USERS = "query { users { totalCount } }"
REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(refreshToken: $token) { user { id roles } accessToken refreshToken tokenType expiresIn }
}"""
CURRENT = "query { myCredentials { id current } }"
CHANGE_PASSWORD = """
mutation Change($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new)
}"""
GRANT = "mutation($u: ID!, $r: String!) { grantRole(userId: $u, role: $r) { id roles } }"
REVOKE_ROLE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { id roles } }"
SET_ACTIVE = "mutation($u: ID!, $a: Boolean!) { setUserActive(userId: $u, active: $a) { id } }"
REVOKE = "mutation($id: ID!) { revokeCredential(id: $id) }"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server: resetPassword's tokens are read out of delivered mails."""
    with Mailbox() as box:
        yield box


@pytest.fixture
def settings(mailbox: Mailbox) -> Settings:
    return make_settings(mail_server=parse_mail_url(mailbox.url()))


ALL_KINDS = ["session", "jwt", "refresh", "token", "basic"]
ROW_KINDS = ["session", "jwt", "refresh", "token"]  # the kinds that are a revocable row
CHALLENGE = {"jwt": BEARER_CHALLENGE, "token": TOKEN_CHALLENGE, "basic": BASIC_CHALLENGE}


@dataclass
class Held:
    """One credential of alice, and how to act with it."""

    kind: str
    headers: dict[str, str]  # for "refresh": the access token of the same family
    credential_id: str | None = None
    refresh_token: str | None = None
    password: str = STRONG_PASSWORD
    extra: dict[str, Any] = field(default_factory=dict)


async def _current_id(http, headers: dict[str, str]) -> str:
    result = await gql(http, CURRENT, headers=headers, cookies=False)
    assert result.status == 200, result.body
    return str(next(c["id"] for c in result.data["myCredentials"] if c["current"]))


async def hold(http, kind: str) -> Held:
    """Sign alice in with `kind`; the client's cookie jar stays empty."""
    if kind == "session":
        value, _ = await cookie_login(http, "alice")
        http.cookies.clear()
        headers = cookie_header(value)
        return Held(kind, headers, await _current_id(http, headers))
    if kind in ("jwt", "refresh"):
        tokens = await bearer_login(http, "alice")
        headers = jwt_headers(tokens)
        return Held(kind, headers, await _current_id(http, headers), tokens["refreshToken"])
    if kind == "token":
        creator = jwt_headers(await bearer_login(http, "alice"))
        payload = await create_token(http, creator, ALL_SCOPES)
        return Held(kind, token(payload["token"]), payload["credential"]["id"])
    assert kind == "basic"
    return Held(kind, basic("alice", STRONG_PASSWORD))


async def probe(http, held: Held, query: str = ME) -> GQLResponse:
    """Use the credential once; a refresh token is spent (and its successor kept)."""
    if held.kind == "refresh":
        result = await gql(http, REFRESH, {"token": held.refresh_token}, cookies=False)
        if not result.errors:
            held.refresh_token = result.data["refreshToken"]["refreshToken"]
            held.headers = bearer(result.data["refreshToken"]["accessToken"])
        return result
    return await gql(http, query, headers=held.headers, cookies=False)


def assert_works(held: Held, result: GQLResponse, user_id: str) -> None:
    assert result.status == 200, (held.kind, result.body)
    assert not result.errors, (held.kind, result.body)
    data = result.data["refreshToken"]["user"] if held.kind == "refresh" else result.data["me"]
    assert data["id"] == user_id


def assert_refused(held: Held, result: GQLResponse) -> None:
    if held.kind == "session":
        # A dead session cookie never blocks: the request is anonymous and the cookie cleared.
        assert result.status == 200, result.body
        assert result.body == {"data": {"me": None}}
        assert clears_cookie(result)
        return
    assert result.status == 401, (held.kind, result.body)
    assert result.codes == ["UNAUTHENTICATED"], result.body
    if held.kind in CHALLENGE:
        assert result.headers["www-authenticate"] == CHALLENGE[held.kind]


async def _other(http) -> dict[str, str]:
    """A second credential of alice (a fresh bearer login) to act from."""
    return jwt_headers(await bearer_login(http, "alice"))


async def _admin(http, admin: Persona) -> dict[str, str]:
    return jwt_headers(await bearer_login(http, admin.username))


# -- logout -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ROW_KINDS)
async def test_logout_ends_the_credential_it_came_with(http, alice: Persona, kind: str):
    held = await hold(http, kind)
    other = await _other(http)
    assert_works(held, await probe(http, held), alice.id)

    result = await gql(http, "mutation { logout }", headers=held.headers, cookies=False)
    assert result.data == {"logout": True}, result.body
    if kind == "session":
        assert clears_cookie(result)

    assert_refused(held, await probe(http, held))
    # Only that one: another credential of the same user goes on working.
    assert (await gql(http, ME, headers=other, cookies=False)).data["me"]["id"] == alice.id


@pytest.mark.parametrize("kind", ROW_KINDS)
async def test_logout_everywhere_ends_every_credential(http, alice: Persona, bob: Persona, kind: str):
    held = await hold(http, kind)
    other = await _other(http)
    bob_jwt = jwt_headers(await bearer_login(http, "bob"))

    result = await gql(http, "mutation { logout(everywhere: true) }", headers=other, cookies=False)
    assert result.data == {"logout": True}, result.body

    assert_refused(held, await probe(http, held))
    assert (await gql(http, ME, headers=other, cookies=False)).status == 401
    assert (await gql(http, ME, headers=bob_jwt, cookies=False)).data["me"]["id"] == bob.id


async def test_logout_everywhere_from_basic_ends_every_row(http, alice: Persona):
    held = await hold(http, "jwt")
    headers = basic("alice", STRONG_PASSWORD)
    result = await gql(http, "mutation { logout(everywhere: true) }", headers=headers, cookies=False)
    assert result.data == {"logout": True}, result.body
    assert_refused(held, await probe(http, held))


async def test_basic_survives_logout_because_the_password_is_the_credential(http, alice: Persona):
    # Basic sends the password itself: only a password change or deactivation ends it
    # (logout empties its cache, so the next request verifies the password again).
    held = await hold(http, "basic")
    for mutation in ("mutation { logout }", "mutation { logout(everywhere: true) }"):
        assert (await gql(http, mutation, headers=held.headers, cookies=False)).data == {"logout": True}
        assert_works(held, await probe(http, held), alice.id)


# -- revokeCredential ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ROW_KINDS)
async def test_revoke_credential_ends_it(http, alice: Persona, kind: str):
    held = await hold(http, kind)
    other = await _other(http)

    result = await gql(http, REVOKE, {"id": held.credential_id}, headers=other, cookies=False)
    assert result.data == {"revokeCredential": True}, result.body

    assert_refused(held, await probe(http, held))
    assert (await gql(http, ME, headers=other, cookies=False)).data["me"]["id"] == alice.id


async def test_revoking_a_family_ends_its_access_and_refresh_tokens_together(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    family = await _current_id(http, jwt_headers(tokens))
    await gql(http, REVOKE, {"id": family}, headers=await _other(http), cookies=False)
    assert (await gql(http, ME, headers=jwt_headers(tokens), cookies=False)).status == 401
    refreshed = await gql(http, REFRESH, {"token": tokens["refreshToken"]}, cookies=False)
    assert refreshed.status == 401 and refreshed.codes == ["UNAUTHENTICATED"]


# -- changePassword -----------------------------------------------------------------------


async def _change_password(http, headers: dict[str, str], current: str = STRONG_PASSWORD) -> None:
    result = await gql(
        http, CHANGE_PASSWORD, {"current": current, "new": OTHER_PASSWORD}, headers=headers, cookies=False
    )
    assert result.status == 200, result.body
    assert result.data == {"changePassword": True}, result.body


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_change_password_ends_every_other_credential(http, alice: Persona, kind: str):
    held = await hold(http, kind)
    actor = await _other(http)

    await _change_password(http, actor)

    assert_refused(held, await probe(http, held))
    assert (await gql(http, ME, headers=actor, cookies=False)).data["me"]["id"] == alice.id
    assert (await gql(http, ME, headers=basic("alice", OTHER_PASSWORD), cookies=False)).status == 200


@pytest.mark.parametrize("kind", ROW_KINDS)
async def test_change_password_keeps_the_current_credential(http, alice: Persona, kind: str):
    held = await hold(http, kind)
    bystander = await _other(http)

    await _change_password(http, held.headers)

    assert_works(held, await probe(http, held), alice.id)
    assert_works(held, await probe(http, held), alice.id)  # and again: it really lives on
    assert (await gql(http, ME, headers=bystander, cookies=False)).status == 401


async def test_change_password_over_basic_ends_the_old_password(http, alice: Persona):
    held = await hold(http, "basic")
    await _change_password(http, held.headers)
    assert_refused(held, await probe(http, held))
    assert_works(held, await gql(http, ME, headers=basic("alice", OTHER_PASSWORD), cookies=False), alice.id)


async def test_wrong_current_password_changes_nothing(http, alice: Persona):
    held = await hold(http, "jwt")
    actor = await _other(http)
    result = await gql(
        http,
        CHANGE_PASSWORD,
        {"current": "definitely not it", "new": OTHER_PASSWORD},
        headers=actor,
        cookies=False,
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "currentPassword" in result.errors[0]["extensions"]["fields"]
    assert_works(held, await probe(http, held), alice.id)


# -- resetPassword (contract section 11) ----------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_reset_password_ends_every_credential(app, http, mailbox, alice: Persona, kind: str):
    held = await hold(http, kind)
    bystander = await _other(http)
    assert_works(held, await probe(http, held), alice.id)

    reset = await reset_token(app, http, mailbox, alice.email)
    result = await gql(http, RESET, {"t": reset, "p": OTHER_PASSWORD}, cookies=False)
    assert result.data == {"resetPassword": True}, result.body

    # Unlike changePassword, nothing is kept: the reset came with no credential at all.
    assert_refused(held, await probe(http, held))
    assert (await gql(http, ME, headers=bystander, cookies=False)).status == 401
    new_password = await gql(http, ME, headers=basic("alice", OTHER_PASSWORD), cookies=False)
    assert new_password.data["me"]["id"] == alice.id, new_password.body


# -- deleteAccount (contract section 11) ----------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_delete_account_ends_every_credential(http, alice: Persona, bob: Persona, kind: str):
    held = await hold(http, kind)
    actor = await _other(http)
    bob_jwt = jwt_headers(await bearer_login(http, "bob"))
    assert_works(held, await probe(http, held), alice.id)

    result = await gql(http, DELETE, {"p": STRONG_PASSWORD}, headers=actor, cookies=False)
    assert result.data == {"deleteAccount": True}, result.body

    assert_refused(held, await probe(http, held))
    assert (await gql(http, ME, headers=actor, cookies=False)).status == 401
    assert (await gql(http, ME, headers=bob_jwt, cookies=False)).data["me"]["id"] == bob.id


# -- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_role_changes_apply_to_the_next_request(http, alice: Persona, admin: Persona, kind: str):
    held = await hold(http, kind)
    admin_headers = await _admin(http, admin)

    async def sees_users() -> GQLResponse:
        if kind == "refresh":
            refreshed = await probe(http, held)
            assert not refreshed.errors, refreshed.body
            return await gql(http, USERS, headers=held.headers, cookies=False)
        return await gql(http, USERS, headers=held.headers, cookies=False)

    before = await sees_users()
    assert before.status == 403 and before.codes == ["FORBIDDEN"], before.body

    granted = await gql(http, GRANT, {"u": alice.id, "r": "admin"}, headers=admin_headers, cookies=False)
    assert granted.data["grantRole"]["roles"] == ["admin"], granted.body
    during = await sees_users()
    assert during.status == 200, during.body
    assert during.data["users"]["totalCount"] == 2

    revoked = await gql(
        http, REVOKE_ROLE, {"u": alice.id, "r": "admin"}, headers=admin_headers, cookies=False
    )
    assert revoked.data["revokeRole"]["roles"] == [], revoked.body
    after = await sees_users()
    assert after.status == 403 and after.codes == ["FORBIDDEN"], after.body


async def test_revoked_admin_loses_admin_powers_at_once(http, alice: Persona, admin: Persona):
    admin_headers = await _admin(http, admin)
    other_admin = await gql(http, GRANT, {"u": alice.id, "r": "admin"}, headers=admin_headers, cookies=False)
    assert other_admin.status == 200
    alice_headers = jwt_headers(await bearer_login(http, "alice"))
    demoted = await gql(
        http, REVOKE_ROLE, {"u": admin.id, "r": "admin"}, headers=alice_headers, cookies=False
    )
    assert demoted.status == 200, demoted.body
    result = await gql(http, SET_ACTIVE, {"u": alice.id, "a": False}, headers=admin_headers, cookies=False)
    assert result.status == 403 and result.codes == ["FORBIDDEN"]


async def test_role_changes_need_the_admin_role(http, alice: Persona, bob: Persona):
    bob_headers = jwt_headers(await bearer_login(http, "bob"))
    for query, variables in (
        (GRANT, {"u": bob.id, "r": "admin"}),
        (REVOKE_ROLE, {"u": alice.id, "r": "admin"}),
        (SET_ACTIVE, {"u": alice.id, "a": False}),
    ):
        result = await gql(http, query, variables, headers=bob_headers, cookies=False)
        assert result.status == 403 and result.codes == ["FORBIDDEN"], result.body
    assert (await gql(http, ME, headers=bob_headers, cookies=False)).data["me"]["roles"] == []


# -- deactivation ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_deactivation_ends_every_credential(http, alice: Persona, admin: Persona, kind: str):
    held = await hold(http, kind)
    admin_headers = await _admin(http, admin)

    result = await gql(http, SET_ACTIVE, {"u": alice.id, "a": False}, headers=admin_headers, cookies=False)
    assert result.status == 200, result.body

    assert_refused(held, await probe(http, held))
    login = await gql(
        http,
        "mutation($i: LoginInput!) { login(input: $i) { user { id } } }",
        {"i": {"login": "alice", "password": STRONG_PASSWORD, "transport": "BEARER"}},
        cookies=False,
    )
    assert login.status == 401

    # Re-enabling lets alice sign in again, but the ended credentials stay ended.
    await gql(http, SET_ACTIVE, {"u": alice.id, "a": True}, headers=admin_headers, cookies=False)
    if kind == "basic":
        assert_works(held, await probe(http, held), alice.id)
    else:
        assert_refused(held, await probe(http, held))
    assert (await bearer_login(http, "alice"))["user"]["id"] == alice.id


# -- refresh-token rotation ---------------------------------------------------------------------


async def test_refresh_rotates_and_the_old_token_stops_working(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    first = await gql(http, REFRESH, {"token": tokens["refreshToken"]}, cookies=False)
    assert first.status == 200, first.body
    payload = first.data["refreshToken"]
    assert payload["tokenType"] == "Bearer"
    assert 0 < payload["expiresIn"] <= 3600
    assert payload["refreshToken"] != tokens["refreshToken"]
    assert payload["accessToken"] != tokens["accessToken"]
    assert payload["user"]["id"] == alice.id
    assert (await gql(http, ME, headers=bearer(payload["accessToken"]), cookies=False)).status == 200

    # The new token works once; the old one is now reuse.
    second = await gql(http, REFRESH, {"token": payload["refreshToken"]}, cookies=False)
    assert second.status == 200, second.body


async def test_reusing_a_refresh_token_revokes_the_whole_family(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    other = await _other(http)
    rotated = (await gql(http, REFRESH, {"token": tokens["refreshToken"]}, cookies=False)).data[
        "refreshToken"
    ]

    reuse = await gql(http, REFRESH, {"token": tokens["refreshToken"]}, cookies=False)
    assert reuse.status == 401
    assert reuse.codes == ["UNAUTHENTICATED"]

    newest = await gql(http, REFRESH, {"token": rotated["refreshToken"]}, cookies=False)
    assert newest.status == 401 and newest.codes == ["UNAUTHENTICATED"]
    for access in (rotated["accessToken"], tokens["accessToken"]):
        result = await gql(http, ME, headers=bearer(access), cookies=False)
        assert result.status == 401
        assert result.headers["www-authenticate"] == BEARER_CHALLENGE
    # Another family of the same user is not touched.
    assert (await gql(http, ME, headers=other, cookies=False)).data["me"]["id"] == alice.id


async def test_concurrent_use_of_one_refresh_token_is_reuse(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    results = await asyncio.gather(
        *(gql(http, REFRESH, {"token": tokens["refreshToken"]}, cookies=False) for _ in range(5))
    )
    winners = [r for r in results if not r.errors]
    assert len(winners) <= 1
    assert all(r.status in (200, 401) for r in results), [r.body for r in results]
    assert all(r.codes == ["UNAUTHENTICATED"] for r in results if r.errors)
    # Reuse was seen, so the family is gone, the winner's successor included.
    for winner in winners:
        successor = winner.data["refreshToken"]["refreshToken"]
        assert (await gql(http, REFRESH, {"token": successor}, cookies=False)).status == 401
    assert (await gql(http, ME, headers=jwt_headers(tokens), cookies=False)).status == 401


@pytest.mark.parametrize(
    "value", ["", "garbage", "gtr_" + "A" * 43, "gth_" + "A" * 43, "gtr_" + "A" * 42, "x" * 10_000]
)
async def test_unknown_refresh_tokens_are_unauthenticated(http, value: str):
    result = await gql(http, REFRESH, {"token": value}, cookies=False)
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert "basic" not in result.headers["www-authenticate"].lower()


async def test_access_token_cannot_be_used_as_refresh_token(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    result = await gql(http, REFRESH, {"token": tokens["accessToken"]}, cookies=False)
    assert result.status == 401
    assert (await gql(http, ME, headers=jwt_headers(tokens), cookies=False)).status == 200


async def test_refresh_token_expires(http, alice: Persona, settings):
    tokens = await bearer_login(http, "alice")
    later = utcnow() + timedelta(seconds=settings.refresh_token_ttl + 1)
    with time_machine.travel(later, tick=False):
        result = await gql(http, REFRESH, {"token": tokens["refreshToken"]}, cookies=False)
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]


async def test_refresh_extends_the_family(http, alice: Persona, settings):
    tokens = await bearer_login(http, "alice")
    almost = utcnow() + timedelta(seconds=settings.refresh_token_ttl - 60)
    with time_machine.travel(almost, tick=False):
        rotated = await gql(http, REFRESH, {"token": tokens["refreshToken"]}, cookies=False)
        assert rotated.status == 200, rotated.body
    beyond_first = almost + timedelta(seconds=120)
    with time_machine.travel(beyond_first, tick=False):
        again = await gql(
            http, REFRESH, {"token": rotated.data["refreshToken"]["refreshToken"]}, cookies=False
        )
    assert again.status == 200, again.body
