"""Introspection as a privilege: `tokens:introspect` tells who holds any live token, so
only an administrator's API token may carry it, and only while its owner is one.

A non-admin asking `createApiToken` for the scope is refused `FORBIDDEN` (the scope
exists; the caller may not have it); a full-rights credential or a token without the
scope is refused 403 `insufficient_scope`; an admin who loses the role loses
introspection on the very next call.
"""

from __future__ import annotations

from tests.helpers import Persona, bearer_login, create_token, gql, jwt_headers, token
from tests.helpers.introspection import INTROSPECT, INTROSPECT_SCOPE, ask, introspector

REVOKE_ROLE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { id roles } }"
CREATE = """
mutation($name: String!, $scopes: [String!]) {
  createApiToken(name: $name, scopes: $scopes) { token }
}"""


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
