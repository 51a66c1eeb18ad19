"""`POST /oauth/introspect` (RFC 7662) through the real app: who may ask, what a live
token answers, that every dead token answers the same bytes, and the HTTP edges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine

from core.clock import utcnow
from core.settings import SettingsError
from models import User
from tests.helpers import (
    Persona,
    app_client,
    bearer,
    bearer_login,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    make_persona,
    make_settings,
    token,
)
from tests.helpers.introspection import INACTIVE, INTROSPECT, ask, introspector

HASURA = "https://hasura.io/jwt/claims"
LOGOUT = "mutation { logout }"
REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"


async def test_a_live_access_jwt_answers_its_claims(http, app, admin: Persona, alice: Persona):
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
    # The JWT's own `scope` claim: full rights, every scope the served schema names.
    assert answer["scope"] == " ".join(sorted(app.state.schema.known_scopes))
    assert "users:write" in answer["scope"].split()


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


async def test_an_encrypted_access_token_is_read_by_introspection(clean_backends):
    """With ACCESS_TOKEN_ENCRYPTION=on the client holds a JWE it cannot read; introspection
    opens it through the same strategy and answers its claims."""
    async with app_client(make_settings(access_token_encryption=True)) as http:
        alice = await make_persona(http, "alice")
        admin = await make_persona(http, "root_admin")
        await User.filter(id=admin.id).update(roles=["admin"])
        caller = await introspector(http, admin)
        pair = await bearer_login(http, "alice")
        assert pair["accessToken"].count(".") == 4  # compact JWE: five parts

        answer = (await ask(http, caller, pair["accessToken"])).json()
        assert (
            answer["active"] is True and answer["sub"] == alice.id and answer["token_type"] == "access_token"
        )

        assert (await gql(http, LOGOUT, headers=jwt_headers(pair), cookies=False)).status == 200
        assert (await ask(http, caller, pair["accessToken"])).content == INACTIVE


@pytest.mark.parametrize("header", ["Weird xyz", "Bearer", "Bearer " + "a" * 9000])
async def test_a_malformed_authorization_header_gets_401_not_500(http, header: str):
    response = await http.post(INTROSPECT, data={"token": "x"}, headers={"Authorization": header})

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer realm="gatehouse", error="invalid_token"'
    assert response.json()["error"] == "invalid_token"


def test_introspect_limit_must_be_in_limits_notation():
    with pytest.raises(SettingsError, match="INTROSPECT_LIMIT"):
        make_settings(introspect_limit="lots")


GRANT_ROLE = "mutation($u: ID!, $r: String!) { grantRole(userId: $u, role: $r) { id roles } }"
REVOKE_ROLE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { id roles } }"


async def test_the_hasura_object_follows_the_roles_as_they_are_now(clean_backends):
    """The token's own Hasura object holds the roles of its issue; introspection answers
    the object made from the current roles, as `roles` is, so a withdrawn role is gone
    from `x-hasura-allowed-roles` (and a withdrawn admin from the default role) too."""
    async with app_client(make_settings(hasura_claims=True)) as http:
        alice = await make_persona(http, "alice")
        admin = await make_persona(http, "root_admin")
        await User.filter(id=admin.id).update(roles=["admin"])
        caller = await introspector(http, admin)
        admin_jwt = jwt_headers(await bearer_login(http, admin.username))
        for role in ("editor", "admin"):
            variables = {"u": alice.id, "r": role}
            granted = await gql(http, GRANT_ROLE, variables, headers=admin_jwt, cookies=False)
            assert not granted.errors, granted.body
        pair = await bearer_login(http, "alice")
        issued = {
            "x-hasura-user-id": alice.id,
            "x-hasura-default-role": "admin",
            "x-hasura-allowed-roles": ["user", "admin", "editor"],
        }
        assert (await ask(http, caller, pair["accessToken"])).json()[HASURA] == issued

        for role in ("editor", "admin"):
            variables = {"u": alice.id, "r": role}
            revoked = await gql(http, REVOKE_ROLE, variables, headers=admin_jwt, cookies=False)
            assert not revoked.errors, revoked.body
        answer = (await ask(http, caller, pair["accessToken"])).json()

        assert answer["active"] is True and answer["roles"] == []
        assert answer[HASURA] == {
            "x-hasura-user-id": alice.id,
            "x-hasura-default-role": "user",
            "x-hasura-allowed-roles": ["user"],
        }


async def test_no_hasura_object_is_made_up_for_a_token_without_one(http, admin: Persona, alice: Persona):
    caller = await introspector(http, admin)
    pair = await bearer_login(http, "alice")
    assert HASURA not in (await ask(http, caller, pair["accessToken"])).json()
