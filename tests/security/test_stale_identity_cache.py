"""A revoked credential must not be served from the identity cache, however warm it is."""

from __future__ import annotations

from tests.helpers import ME, bearer, bearer_login, gql, make_persona


async def _warm(http, token: str) -> None:
    for _ in range(4):  # owner learnt, then read under a generation, then served from memory
        assert (await gql(http, ME, headers=bearer(token), cookies=False)).status == 200


async def test_a_revoked_token_is_refused_right_after_the_cache_was_warmed(http):
    await make_persona(http, "mallory")
    tokens = await bearer_login(http, "mallory")
    await _warm(http, tokens["accessToken"])
    logout = await gql(http, "mutation { logout }", headers=bearer(tokens["accessToken"]), cookies=False)
    assert logout.data == {"logout": True}
    assert (await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)).status == 401


async def test_a_role_taken_away_is_seen_by_the_next_request_despite_the_cache(http, admin):
    boss = await bearer_login(http, admin.username)
    target = await make_persona(http, "trent")
    tokens = await bearer_login(http, "trent")
    grant = 'mutation($id: ID!) { grantRole(userId: $id, role: "admin") { roles } }'
    await gql(http, grant, {"id": target.id}, headers=bearer(boss["accessToken"]), cookies=False)
    users = "{ users(first: 1) { totalCount } }"
    for _ in range(3):
        assert (await gql(http, users, headers=bearer(tokens["accessToken"]), cookies=False)).status == 200
    revoke = 'mutation($id: ID!) { revokeRole(userId: $id, role: "admin") { roles } }'
    await gql(http, revoke, {"id": target.id}, headers=bearer(boss["accessToken"]), cookies=False)
    assert (await gql(http, users, headers=bearer(tokens["accessToken"]), cookies=False)).status == 403
