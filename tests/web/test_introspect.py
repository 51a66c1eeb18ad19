"""`POST /oauth/introspect` (RFC 7662) through the real app: who may ask, what a live
token answers, that every dead token answers the same bytes, and the HTTP edges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine

from core.clock import utcnow
from tests.helpers import (
    Persona,
    bearer,
    bearer_login,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    make_settings,
    token,
)

INTROSPECT = "/oauth/introspect"
INTROSPECT_SCOPE = "tokens:introspect"
INACTIVE = b'{"active":false}'
LOGOUT = "mutation { logout }"
REVOKE = "mutation($id: ID!) { revokeCredential(id: $id) }"
REVOKE_ROLE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { id roles } }"
REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"
CREATE = """
mutation($name: String!, $scopes: [String!]) {
  createApiToken(name: $name, scopes: $scopes) { token }
}"""


async def introspector(http: httpx.AsyncClient, admin: Persona) -> dict[str, str]:
    """The Authorization header of a service's token made by `admin` for introspection."""
    payload = await create_token(
        http, jwt_headers(await bearer_login(http, admin.username)), [INTROSPECT_SCOPE]
    )
    return token(payload["token"])


async def ask(http: httpx.AsyncClient, caller: dict[str, str], value: str, **form: str) -> httpx.Response:
    return await http.post(INTROSPECT, data={"token": value, **form}, headers=caller)


async def test_a_live_access_jwt_answers_its_claims(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    pair = await bearer_login(http, "alice")

    response = await ask(http, caller, pair["accessToken"], token_type_hint="access_token")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert answer["active"] is True
    assert answer["sub"] == alice.id
    assert answer["username"] == "alice"
    assert answer["token_type"] == "access_token"
    assert answer["credential_kind"] == "REFRESH"
    assert answer["iss"] == "gatehouse" and answer["aud"] == "gatehouse"
    assert answer["roles"] == []
    assert isinstance(answer["jti"], str) and answer["sid"] == answer["credential_id"]
    now = utcnow().timestamp()
    assert answer["iat"] <= now + 1 < answer["exp"] <= now + 901
    assert "typ" not in answer


async def test_a_live_api_token_answers_its_scopes_and_expiry(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    alice_jwt = jwt_headers(await bearer_login(http, "alice"))
    made = await create_token(http, alice_jwt, ["users:read", "credentials:read"], days=10)

    answer = (await ask(http, caller, made["token"])).json()

    assert answer["active"] is True
    assert answer["sub"] == alice.id and answer["username"] == "alice"
    assert answer["scope"] == "credentials:read users:read"
    assert answer["token_type"] == "api_token" and answer["credential_kind"] == "API_TOKEN"
    assert answer["credential_id"] == made["credential"]["id"]
    assert answer["iss"] == "gatehouse"
    expected = (utcnow() + timedelta(days=10)).timestamp()
    assert expected - 60 < answer["exp"] <= expected + 1


async def test_every_dead_token_answers_the_same_bytes(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    alice_jwt = jwt_headers(await bearer_login(http, "alice"))
    revoked = await create_token(http, alice_jwt, ["users:read"])
    ended = await gql(http, REVOKE, {"id": revoked["credential"]["id"]}, headers=alice_jwt, cookies=False)
    assert ended.data == {"revokeCredential": True}, ended.body
    logged_out = await bearer_login(http, "alice")
    assert (await gql(http, LOGOUT, headers=jwt_headers(logged_out), cookies=False)).status == 200
    session_id, _ = await cookie_login(http, "alice")
    dead = {
        "revoked API token": revoked["token"],
        "unknown API token": "gth_" + "A" * 43,
        "malformed API token": "gth_short",
        "access JWT of a logged-out family": logged_out["accessToken"],
        "tampered JWT": logged_out["accessToken"][:-4] + "AAAA",
        "not a token": "hello",
        "refresh token": (await bearer_login(http, "alice"))["refreshToken"],
        "session id": session_id,
    }
    answers = {name: await ask(http, caller, value) for name, value in dead.items()}

    for name, response in answers.items():
        assert response.status_code == 200, (name, response.text)
        assert response.content == INACTIVE, (name, response.text)
        assert sorted(response.headers.keys()) == sorted(answers["revoked API token"].headers.keys()), name


async def test_an_expired_access_jwt_is_inactive(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    pair = await bearer_login(http, "alice")
    assert (await ask(http, caller, pair["accessToken"])).json()["active"] is True

    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
        later = await ask(http, caller, pair["accessToken"])

    assert later.content == INACTIVE


async def test_revocation_is_felt_by_the_very_next_introspection(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    pair = await bearer_login(http, "alice")
    assert (await ask(http, caller, pair["accessToken"])).json()["active"] is True

    assert (await gql(http, LOGOUT, headers=jwt_headers(pair), cookies=False)).status == 200

    assert (await ask(http, caller, pair["accessToken"])).content == INACTIVE


async def test_introspecting_a_refresh_token_never_spends_it(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    pair = await bearer_login(http, "alice")

    for hint in ("refresh_token", "access_token", "no_such_hint"):
        assert (await ask(http, caller, pair["refreshToken"], token_type_hint=hint)).content == INACTIVE

    refreshed = await gql(http, REFRESH, {"t": pair["refreshToken"]}, cookies=False)
    assert refreshed.status == 200 and not refreshed.errors, refreshed.body
    # The family is still the same live one: its old access token still introspects.
    assert (await ask(http, caller, pair["accessToken"])).json()["active"] is True


async def test_a_caller_without_credentials_gets_the_bearer_challenge(http, alice: Persona):
    pair = await bearer_login(http, "alice")
    response = await http.post(INTROSPECT, data={"token": pair["accessToken"]})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="gatehouse"'
    assert response.json()["error"] == "invalid_client"
    assert "active" not in response.json()


async def test_a_session_cookie_does_not_make_a_caller(http, admin: Persona):
    await cookie_login(http, admin.username)
    response = await http.post(INTROSPECT, data={"token": "hello"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="gatehouse"'


@pytest.mark.parametrize(
    ("header", "challenge"),
    [
        (token("gth_" + "B" * 43), 'Token realm="gatehouse", error="invalid_token"'),
        (bearer("not.a.jwt"), 'Bearer realm="gatehouse", error="invalid_token"'),
    ],
)
async def test_a_wrong_caller_credential_gets_401_with_its_challenge(http, header, challenge):
    response = await http.post(INTROSPECT, data={"token": "x"}, headers=header)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.json()["error"] == "invalid_token"


async def test_a_revoked_caller_token_gets_401_at_once(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    assert (await ask(http, caller, "x")).status_code == 200
    assert (await gql(http, LOGOUT, headers=caller, cookies=False)).status == 200

    response = await ask(http, caller, "x")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Token realm="gatehouse", error="invalid_token"'


async def test_callers_without_the_scope_are_refused_with_insufficient_scope(http, admin: Persona):
    admin_jwt = jwt_headers(await bearer_login(http, admin.username))
    other_scopes = token((await create_token(http, admin_jwt, ["users:read"]))["token"])

    for caller, scheme in ((admin_jwt, "Bearer"), (other_scopes, "Token")):
        response = await http.post(INTROSPECT, data={"token": "x"}, headers=caller)
        assert response.status_code == 403, response.text
        assert response.headers["www-authenticate"] == (
            f'{scheme} realm="gatehouse", error="insufficient_scope", scope="tokens:introspect"'
        )
        assert response.json()["error"] == "insufficient_scope"


async def test_only_an_admin_may_create_an_introspection_token(http, admin: Persona, alice: Persona):
    alice_jwt = jwt_headers(await bearer_login(http, "alice"))

    refused = await gql(
        http, CREATE, {"name": "svc", "scopes": [INTROSPECT_SCOPE]}, headers=alice_jwt, cookies=False
    )

    assert refused.codes == ["FORBIDDEN"], refused.body
    assert "admin role" in refused.errors[0]["message"]
    admin_jwt = jwt_headers(await bearer_login(http, admin.username))
    made = await gql(
        http, CREATE, {"name": "svc", "scopes": [INTROSPECT_SCOPE]}, headers=admin_jwt, cookies=False
    )
    assert made.data["createApiToken"]["token"].startswith("gth_"), made.body


async def test_an_admin_losing_the_role_stops_introspecting_at_once(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    pair = await bearer_login(http, "alice")
    assert (await ask(http, caller, pair["accessToken"])).json()["active"] is True
    admin_jwt = jwt_headers(await bearer_login(http, admin.username))
    # Another admin withdraws the role (an admin may not be able to withdraw their own).
    from models import User

    await User.filter(id=alice.id).update(roles=["admin"])
    alice_admin = jwt_headers(await bearer_login(http, "alice"))
    withdrawn = await gql(
        http, REVOKE_ROLE, {"u": admin.id, "r": "admin"}, headers=alice_admin, cookies=False
    )
    assert withdrawn.data["revokeRole"]["roles"] == [], withdrawn.body

    response = await ask(http, caller, pair["accessToken"])

    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"
    assert admin_jwt  # the admin's own sign-in stays; only the role went


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_other_methods_get_405(http, method: str):
    response = await http.request(method, INTROSPECT)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("content", "content_type", "says"),
    [
        (b'{"token": "x"}', "application/json", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded", "exactly one"),
        (b"token=a&token=b", "application/x-www-form-urlencoded", "exactly one"),
        (b"token=", "application/x-www-form-urlencoded", "exactly one"),
        (b"token=a&token_type_hint=x&token_type_hint=y", "application/x-www-form-urlencoded", "at most once"),
        (b"token=\xff\xfe", "application/x-www-form-urlencoded", "readable form"),
        (b"token", "application/x-www-form-urlencoded", "readable form"),
        (b"&".join(b"f%d=1" % i for i in range(20)), "application/x-www-form-urlencoded", "readable form"),
        (b"token=" + b"a" * 20_000, "application/x-www-form-urlencoded", "over 16384 bytes"),
    ],
)
async def test_malformed_or_oversized_bodies_get_400_with_a_clear_error(
    http, admin: Persona, content: bytes, content_type: str, says: str
):
    caller = await introspector(http, admin)

    response = await http.post(INTROSPECT, content=content, headers={**caller, "Content-Type": content_type})

    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == "invalid_request" and body["code"] == "BAD_REQUEST"
    assert says in body["error_description"]


class TestRateLimit:
    @pytest.fixture
    def settings(self):
        return make_settings(introspect_limit="3/minute")

    async def test_each_caller_is_limited_on_its_own_with_retry_after(self, http, admin: Persona):
        first, second = await introspector(http, admin), await introspector(http, admin)
        for _ in range(3):
            assert (await ask(http, first, "x")).status_code == 200

        limited = await ask(http, first, "x")

        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["error"] == "rate_limited" and limited.json()["retry_after"] >= 1
        assert (await ask(http, second, "x")).status_code == 200


async def test_unknown_and_revoked_api_tokens_take_the_same_path(http, app, admin: Persona, alice: Persona):
    """No branch to time: both are one lookup of the token's digest, answered alike."""
    caller = await introspector(http, admin)
    alice_jwt = jwt_headers(await bearer_login(http, "alice"))
    revoked = await create_token(http, alice_jwt, [])
    await gql(http, REVOKE, {"id": revoked["credential"]["id"]}, headers=alice_jwt, cookies=False)
    for _ in range(2):  # the first use learns the caller's owner, the second caches its row
        assert (await ask(http, caller, "x")).content == INACTIVE
    store = app.state.backend.api_tokens.live.store
    lookups: list[str] = []
    original = store.find

    async def counting_find(kind, **where):
        lookups.append(where["secret_hash"])
        return await original(kind, **where)

    store.find = counting_find
    try:
        unknown = await ask(http, caller, "gth_" + "C" * 43)
        unknown_lookups = list(lookups)
        lookups.clear()
        dead = await ask(http, caller, revoked["token"])
    finally:
        store.find = original

    assert unknown.content == dead.content == INACTIVE
    # Each is exactly one lookup of the token asked about (the caller's row is cached).
    assert len(unknown_lookups) == len(lookups) == 1, (unknown_lookups, lookups)
