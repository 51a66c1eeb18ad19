"""`GET /auth/verify` through the real app: each of the four schemes passes with the
user's headers, anyone else gets 401 with the challenge, and revocation is felt at once."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import (
    Persona,
    bearer,
    bearer_login,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    token,
)
from tests.helpers.headers import basic

VERIFY = "/auth/verify"
LOGOUT = "mutation { logout }"
REVOKE_ROLE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { id roles } }"
GRANT_ROLE = "mutation($u: ID!, $r: String!) { grantRole(userId: $u, role: $r) { id roles } }"
ROLE_RULE = "Use 1 to 32 ASCII letters (A-Z, a-z), digits, '_' or '-'."


def assert_passes(response: httpx.Response, persona: Persona, roles: str = "", scopes: str = "*") -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["x-auth-user-id"] == persona.id
    assert response.headers["x-auth-username"] == persona.username
    assert response.headers["x-auth-roles"] == roles
    assert response.headers["x-auth-scopes"] == scopes
    assert response.headers["cache-control"] == "no-store"


async def test_an_access_jwt_passes_with_the_users_headers(http, alice: Persona):
    pair = await bearer_login(http, "alice")

    assert_passes(await http.get(VERIFY, headers=jwt_headers(pair)), alice)


async def test_an_api_token_passes_with_its_own_scopes(http, alice: Persona):
    made = await create_token(
        http, jwt_headers(await bearer_login(http, "alice")), ["users:read", "credentials:read"]
    )

    assert_passes(
        await http.get(VERIFY, headers=token(made["token"])), alice, scopes="credentials:read,users:read"
    )
    # Also as `Bearer gth_...`, and a token without scopes sends an empty list, not "*".
    assert_passes(
        await http.get(VERIFY, headers=bearer(made["token"])), alice, scopes="credentials:read,users:read"
    )
    bare = await create_token(http, jwt_headers(await bearer_login(http, "alice")), [])
    assert_passes(await http.get(VERIFY, headers=token(bare["token"])), alice, scopes="")


async def test_a_session_cookie_passes(http, alice: Persona):
    await cookie_login(http, "alice")

    assert_passes(await http.get(VERIFY), alice)


async def test_basic_passes(http, alice: Persona):
    assert_passes(await http.get(VERIFY, headers=basic("alice", alice.password)), alice)


async def test_roles_are_sent_as_a_sorted_list(http, admin: Persona):
    from models import User

    await User.filter(id=admin.id).update(roles=["support", "admin"])
    pair = await bearer_login(http, admin.username)

    assert_passes(await http.get(VERIFY, headers=jwt_headers(pair)), admin, roles="admin,support")


@pytest.mark.parametrize("role", ["管理", "é", "\uff41dmin", "x" * 33, "a,b", "a b"])
async def test_grant_role_takes_ascii_names_only(http, admin: Persona, alice: Persona, role: str):
    """A role travels in `X-Auth-Roles`: `str.isalnum` once let "管理" in, and then every
    forward-auth check of that user was a 500."""
    admin_headers = jwt_headers(await bearer_login(http, admin.username))

    refused = await gql(http, GRANT_ROLE, {"u": alice.id, "r": role}, headers=admin_headers, cookies=False)

    assert refused.codes == ["BAD_USER_INPUT"], refused.body
    assert refused.errors[0]["extensions"]["fields"] == {"role": ROLE_RULE}
    granted = await gql(
        http, GRANT_ROLE, {"u": alice.id, "r": "Ops_2-" + "x" * 26}, headers=admin_headers, cookies=False
    )
    assert granted.data["grantRole"]["roles"] == ["Ops_2-" + "x" * 26], granted.body


async def test_a_role_no_header_can_carry_is_left_out_not_a_500(http, admin: Persona, alice: Persona):
    """A row from before the ASCII rule: the check still passes, without that role."""
    from models import User

    await User.filter(id=alice.id).update(roles=["管理", "support", "é"])
    pair = await bearer_login(http, "alice")

    assert_passes(await http.get(VERIFY, headers=jwt_headers(pair)), alice, roles="support")
    # An admin can still take such a role away, although grantRole would refuse it.
    admin_headers = jwt_headers(await bearer_login(http, admin.username))
    taken = await gql(http, REVOKE_ROLE, {"u": alice.id, "r": "管理"}, headers=admin_headers, cookies=False)
    assert sorted(taken.data["revokeRole"]["roles"]) == ["support", "é"], taken.body
    unknown = await gql(http, REVOKE_ROLE, {"u": alice.id, "r": "管"}, headers=admin_headers, cookies=False)
    assert unknown.errors[0]["extensions"]["fields"] == {"role": ROLE_RULE}, unknown.body


async def test_a_username_no_header_can_carry_is_refused_not_a_500(http, alice: Persona):
    """Registration allows ASCII names only; a row that is not gets 403, never a 500 or a
    check that passes naming nobody."""
    from models import User

    pair = await bearer_login(http, "alice")
    await User.filter(id=alice.id).update(username="ålice")

    response = await http.get(VERIFY, headers=jwt_headers(pair))

    assert response.status_code == 403, response.text
    assert "x-auth-user-id" not in response.headers


async def test_a_stale_cookie_is_signed_out_and_cleared(http, alice: Persona):
    http.cookies.set("session", "A" * 43)
    response = await http.get(VERIFY)

    assert response.status_code == 401
    assert "session=" in response.headers.get("set-cookie", "")


async def test_cross_site_headers_do_not_refuse_a_cookie_check(http, alice: Persona):
    """A GET without side effects, answered to the proxy: no origin check (docs/TOKENS.md)."""
    await cookie_login(http, "alice")

    response = await http.get(
        VERIFY, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )

    assert_passes(response, alice)


async def test_proxy_headers_about_the_original_request_change_nothing(http, alice: Persona):
    pair = await bearer_login(http, "alice")
    forwarded = {
        "X-Forwarded-Method": "DELETE",
        "X-Forwarded-Uri": "/admin/everything",
        "X-Original-URI": "/admin/everything",
        "X-Original-Method": "POST",
    }

    assert_passes(await http.get(VERIFY, headers={**jwt_headers(pair), **forwarded}), alice)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_other_methods_get_405(http, method: str):
    response = await http.request(method, VERIFY)

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


async def test_head_answers_like_get(http, alice: Persona):
    pair = await bearer_login(http, "alice")

    assert_passes(await http.head(VERIFY, headers=jwt_headers(pair)), alice)


async def test_no_graphql_runs_for_a_check(http, app, alice: Persona, monkeypatch):
    pair = await bearer_login(http, "alice")
    from web.graphql import GraphQLView

    async def no_graphql(*args, **kwargs):
        raise AssertionError("the GraphQL view ran for /auth/verify")

    monkeypatch.setattr(GraphQLView, "__call__", no_graphql)

    assert_passes(await http.get(VERIFY, headers=jwt_headers(pair)), alice)
