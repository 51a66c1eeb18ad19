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
    jwt_headers,
    token,
)
from tests.helpers.headers import basic

VERIFY = "/auth/verify"
LOGOUT = "mutation { logout }"
REVOKE_ROLE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { id roles } }"


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
