"""`myCredentials` and `revokeCredential` through the real app."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import (
    GRAPHQL,
    ME,
    MY_CREDENTIALS,
    STRONG_PASSWORD,
    Persona,
    basic,
    bearer_login,
    cookie_header,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    token,
)

REVOKE = "mutation Revoke($id: ID!) { revokeCredential(id: $id) }"


async def _three_kinds(http) -> dict[str, dict[str, str]]:
    """Alice signed in three ways; returns the headers of each."""
    session, _ = await cookie_login(http, "alice")
    http.cookies.clear()
    jwt = jwt_headers(await bearer_login(http, "alice"))
    api = token((await create_token(http, jwt, ["credentials:read", "credentials:write"]))["token"])
    return {"SESSION": cookie_header(session), "REFRESH": jwt, "API_TOKEN": api}


async def _list(http, headers: dict[str, str]) -> list[dict]:
    result = await gql(http, MY_CREDENTIALS, headers=headers, cookies=False)
    assert result.status == 200, result.body
    rows: list[dict] = result.data["myCredentials"]
    return rows


@pytest.mark.parametrize("kind", ["SESSION", "REFRESH", "API_TOKEN"])
async def test_listing_marks_only_the_credential_in_use(http, alice: Persona, kind: str):
    headers = await _three_kinds(http)
    rows = await _list(http, headers[kind])

    # alice's registration (BEARER) made one family too.
    assert sorted(r["kind"] for r in rows) == ["API_TOKEN", "REFRESH", "REFRESH", "SESSION"]
    current = [r for r in rows if r["current"]]
    assert len(current) == 1
    assert current[0]["kind"] == kind


async def test_listing_over_basic_marks_nothing_current(http, alice: Persona):
    await _three_kinds(http)
    rows = await _list(http, basic("alice", STRONG_PASSWORD))
    assert len(rows) == 4
    assert not any(r["current"] for r in rows)


async def test_listing_shows_only_my_live_credentials(http, alice: Persona, bob: Persona):
    headers = await _three_kinds(http)
    bob_rows = await _list(http, jwt_headers(await bearer_login(http, "bob")))
    alice_ids = {r["id"] for r in await _list(http, headers["REFRESH"])}
    assert alice_ids.isdisjoint(r["id"] for r in bob_rows)

    token_id = next(r["id"] for r in await _list(http, headers["REFRESH"]) if r["kind"] == "API_TOKEN")
    await gql(http, REVOKE, {"id": token_id}, headers=headers["REFRESH"], cookies=False)
    assert token_id not in {r["id"] for r in await _list(http, headers["REFRESH"])}


@pytest.mark.parametrize("target", ["SESSION", "REFRESH", "API_TOKEN"])
async def test_revoke_own_credential(http, alice: Persona, target: str):
    headers = await _three_kinds(http)
    actor = headers["API_TOKEN"] if target != "API_TOKEN" else headers["REFRESH"]
    target_id = next(r["id"] for r in await _list(http, headers[target]) if r["current"])

    result = await gql(http, REVOKE, {"id": target_id}, headers=actor, cookies=False)
    assert result.status == 200, result.body
    assert result.data == {"revokeCredential": True}

    after = await gql(http, ME, headers=headers[target], cookies=False)
    if target == "SESSION":
        assert after.body == {"data": {"me": None}}
    else:
        assert after.status == 401
        assert after.codes == ["UNAUTHENTICATED"]
    assert target_id not in {r["id"] for r in await _list(http, actor)}


async def test_revoke_the_credential_in_use(http, alice: Persona):
    headers = await _three_kinds(http)
    own = next(r["id"] for r in await _list(http, headers["API_TOKEN"]) if r["current"])
    result = await gql(http, REVOKE, {"id": own}, headers=headers["API_TOKEN"], cookies=False)
    assert result.data == {"revokeCredential": True}
    assert (await gql(http, ME, headers=headers["API_TOKEN"], cookies=False)).status == 401


async def test_someone_elses_id_answers_like_an_unknown_id(http, alice: Persona, bob: Persona):
    alice_jwt = jwt_headers(await bearer_login(http, "alice"))
    bob_jwt = jwt_headers(await bearer_login(http, "bob"))
    bobs = [r["id"] for r in await _list(http, bob_jwt)]

    async def raw(credential_id: str):
        return await http.post(
            GRAPHQL, json={"query": REVOKE, "variables": {"id": credential_id}}, headers=alice_jwt
        )

    theirs = await raw(bobs[0])
    unknown = await raw(str(uuid.uuid4()))
    assert theirs.status_code == unknown.status_code == 200
    assert theirs.content == unknown.content
    assert theirs.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "id" in theirs.json()["errors"][0]["extensions"]["fields"]
    # Bob's credentials are untouched.
    assert (await gql(http, ME, headers=bob_jwt, cookies=False)).data["me"]["id"] == bob.id


async def test_revoking_twice_answers_like_an_unknown_id(http, alice: Persona):
    headers = await _three_kinds(http)
    target = next(r["id"] for r in await _list(http, headers["REFRESH"]) if r["kind"] == "SESSION")
    first = await gql(http, REVOKE, {"id": target}, headers=headers["REFRESH"], cookies=False)
    assert first.data == {"revokeCredential": True}
    second = await gql(http, REVOKE, {"id": target}, headers=headers["REFRESH"], cookies=False)
    unknown = await gql(http, REVOKE, {"id": str(uuid.uuid4())}, headers=headers["REFRESH"], cookies=False)
    assert second.body == unknown.body
    assert second.codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("bad_id", ["nope", "", "1234", "' OR 1=1 --", "0" * 1000])
async def test_invalid_id_is_bad_input(http, alice: Persona, bad_id: str):
    jwt = jwt_headers(await bearer_login(http, "alice"))
    result = await gql(http, REVOKE, {"id": bad_id}, headers=jwt, cookies=False)
    assert result.status == 200
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "id" in result.errors[0]["extensions"]["fields"]


async def test_listing_and_revoking_need_authentication(http):
    for query, variables in ((MY_CREDENTIALS, None), (REVOKE, {"id": str(uuid.uuid4())})):
        result = await gql(http, query, variables)
        assert result.status == 401
        assert result.codes == ["UNAUTHENTICATED"]
