"""Getting past a reverse proxy that asks `GET /auth/verify`: no credential, a wrong
one, one revoked a moment ago, or a role withdrawn a moment ago must not pass as before.

The endpoint sits behind the same authentication middleware as /graphql, so each of
these is decided on the request itself (identity cache generations, the credential
row), never on what an earlier check answered.
"""

from __future__ import annotations

import pytest

from tests.helpers import (
    BEARER_CHALLENGE,
    TOKEN_CHALLENGE,
    Persona,
    bearer,
    bearer_login,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    token,
)

VERIFY = "/auth/verify"
LOGOUT = "mutation { logout }"
REVOKE_ROLE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { id roles } }"


async def test_a_signed_out_request_gets_401_with_the_challenge(http):
    response = await http.get(VERIFY)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="gatehouse"'
    assert not any(name.startswith("x-auth-") for name in response.headers)


@pytest.mark.parametrize(
    ("header", "challenge"),
    [(bearer("not.a.jwt"), BEARER_CHALLENGE), (token("gth_" + "D" * 43), TOKEN_CHALLENGE)],
)
async def test_a_wrong_credential_gets_401_with_its_challenge(http, header, challenge):
    response = await http.get(VERIFY, headers=header)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge


@pytest.mark.parametrize("kind", ["jwt", "cookie", "token"])
async def test_the_very_next_request_after_logout_is_refused(http, alice: Persona, kind: str):
    headers: dict[str, str] = {}
    if kind == "jwt":
        headers = jwt_headers(await bearer_login(http, "alice"))
    elif kind == "token":
        headers = token(
            (await create_token(http, jwt_headers(await bearer_login(http, "alice")), []))["token"]
        )
    else:
        await cookie_login(http, "alice")
    assert (await http.get(VERIFY, headers=headers)).status_code == 204

    logged_out = await gql(http, LOGOUT, headers=headers, cookies=kind == "cookie")
    assert logged_out.status == 200 and not logged_out.errors, logged_out.body

    assert (await http.get(VERIFY, headers=headers)).status_code == 401


async def test_a_withdrawn_role_is_gone_from_the_next_answer(http, admin: Persona, alice: Persona):
    from models import User

    await User.filter(id=alice.id).update(roles=["admin"])
    alice_jwt = jwt_headers(await bearer_login(http, "alice"))
    assert (await http.get(VERIFY, headers=alice_jwt)).headers["x-auth-roles"] == "admin"

    admin_jwt = jwt_headers(await bearer_login(http, admin.username))
    withdrawn = await gql(http, REVOKE_ROLE, {"u": alice.id, "r": "admin"}, headers=admin_jwt, cookies=False)
    assert withdrawn.data["revokeRole"]["roles"] == [], withdrawn.body

    assert (await http.get(VERIFY, headers=alice_jwt)).headers["x-auth-roles"] == ""
