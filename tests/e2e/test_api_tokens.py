"""API tokens through the real app: shown once, scoped, expiring, touched sparingly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from core.clock import as_utc, utcnow
from models import Credential, CredentialKind
from tests.helpers import (
    ALL_SCOPES,
    CREATE_TOKEN,
    ME,
    MY_CREDENTIALS,
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

USERS = "query { users { totalCount } }"
CHANGE_PASSWORD = 'mutation { changePassword(currentPassword: "x", newPassword: "y") }'


async def _alice_jwt(http) -> dict[str, str]:
    return jwt_headers(await bearer_login(http, "alice"))


async def test_create_returns_the_token_once_with_its_credential(http, alice: Persona):
    headers = await _alice_jwt(http)
    before = utcnow()
    payload = await create_token(http, headers, ["credentials:read"], name="  deploy bot  ")

    value = payload["token"]
    assert value.startswith("gth_")
    assert len(value) == 4 + 43
    credential = payload["credential"]
    assert credential["kind"] == "API_TOKEN"
    assert credential["name"] == "deploy bot"
    assert credential["scopes"] == ["credentials:read"]
    assert credential["current"] is False
    assert credential["lastUsedAt"] is None
    expires = datetime.fromisoformat(credential["expiresAt"])
    assert (
        before + timedelta(days=90) - timedelta(minutes=1)
        < expires
        < utcnow() + timedelta(days=90, minutes=1)
    )

    # Only a digest is stored, and listing never shows the value again.
    row = await Credential.get(id=credential["id"])
    assert row.secret_hash and value not in row.secret_hash
    listed = await gql(
        http, "query { myCredentials { id name scopes kind } }", headers=headers, cookies=False
    )
    assert value not in str(listed.body)
    assert {
        "id": credential["id"],
        "name": "deploy bot",
        "scopes": ["credentials:read"],
        "kind": "API_TOKEN",
    } in (listed.data["myCredentials"])


async def test_create_with_cookie_session(http, alice: Persona):
    await cookie_login(http, "alice")
    result = await gql(http, CREATE_TOKEN, {"name": "from the browser", "scopes": []})
    assert result.status == 200, result.body
    assert result.data["createApiToken"]["token"].startswith("gth_")


async def test_token_is_accepted_as_token_and_as_bearer(http, alice: Persona):
    value = (await create_token(http, await _alice_jwt(http)))["token"]
    for headers in (token(value), bearer(value), {"Authorization": f"token {value}"}):
        result = await gql(http, ME, headers=headers, cookies=False)
        assert result.status == 200, result.body
        assert result.data["me"]["id"] == alice.id


async def test_anonymous_cannot_create_tokens(http):
    result = await gql(http, CREATE_TOKEN, {"name": "x", "scopes": []})
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]


async def test_scope_is_enforced(http, alice: Persona):
    jwt = await _alice_jwt(http)
    without = (await create_token(http, jwt, ["credentials:write"]))["token"]
    with_read = (await create_token(http, jwt, ["credentials:read"]))["token"]

    refused = await gql(http, MY_CREDENTIALS, headers=token(without), cookies=False)
    assert refused.status == 403
    assert refused.codes == ["FORBIDDEN"]
    assert "credentials:read" in refused.errors[0]["message"]

    allowed = await gql(http, MY_CREDENTIALS, headers=token(with_read), cookies=False)
    assert allowed.status == 200, allowed.body
    current = [c for c in allowed.data["myCredentials"] if c["current"]]
    assert len(current) == 1 and current[0]["kind"] == "API_TOKEN"


async def test_token_without_scopes_reads_me_only(http, alice: Persona, admin: Persona):
    bare = (await create_token(http, await _alice_jwt(http)))["token"]
    assert (await gql(http, ME, headers=token(bare), cookies=False)).data["me"]["id"] == alice.id
    for query in (MY_CREDENTIALS, CHANGE_PASSWORD, 'query { user(id: "x") { id } }'):
        result = await gql(http, query, headers=token(bare), cookies=False)
        assert result.codes == ["FORBIDDEN"], (query, result.body)
        assert result.status == 403


async def test_admin_token_needs_both_role_and_scope(http, admin: Persona):
    admin_jwt = jwt_headers(await bearer_login(http, admin.username))
    reader = (await create_token(http, admin_jwt, ["users:read"]))["token"]
    writer = (await create_token(http, admin_jwt, ["credentials:read"]))["token"]
    assert (await gql(http, USERS, headers=token(reader), cookies=False)).status == 200
    refused = await gql(http, USERS, headers=token(writer), cookies=False)
    assert refused.codes == ["FORBIDDEN"]


async def test_a_token_cannot_mint_scopes_it_lacks(http, alice: Persona):
    jwt = await _alice_jwt(http)
    # Longer-lived than the children below (default 90 days): a token cannot outlive its
    # creator (tests/security/test_api_token_lifetime_escalation.py).
    minter = (await create_token(http, jwt, ["credentials:write"], days=366))["token"]

    escalated = await gql(
        http,
        CREATE_TOKEN,
        {"name": "more", "scopes": ["credentials:read"]},
        headers=token(minter),
        cookies=False,
    )
    assert escalated.codes == ["BAD_USER_INPUT"], escalated.body
    assert "scopes" in escalated.errors[0]["extensions"]["fields"]

    same = await gql(
        http,
        CREATE_TOKEN,
        {"name": "same", "scopes": ["credentials:write"]},
        headers=token(minter),
        cookies=False,
    )
    assert same.status == 200 and not same.errors, same.body
    fewer = await gql(
        http, CREATE_TOKEN, {"name": "fewer", "scopes": []}, headers=token(minter), cookies=False
    )
    assert fewer.status == 200 and not fewer.errors, fewer.body


async def test_full_rights_credentials_may_grant_any_known_scope(http, alice: Persona):
    payload = await create_token(http, await _alice_jwt(http), [*ALL_SCOPES, "users:read"])
    assert payload["credential"]["scopes"] == sorted(ALL_SCOPES)


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"name": "x", "scopes": ["admin"]}, "scopes"),
        ({"name": "x", "scopes": ["users:read", "users:*"]}, "scopes"),
        ({"name": "x", "scopes": ["USERS:READ"]}, "scopes"),
        ({"name": "x", "scopes": [], "days": 0}, "expiresInDays"),
        ({"name": "x", "scopes": [], "days": -5}, "expiresInDays"),
        ({"name": "x", "scopes": [], "days": 367}, "expiresInDays"),
        ({"name": "x", "scopes": [], "days": 2**31 - 1}, "expiresInDays"),
        ({"name": "", "scopes": []}, "name"),
        ({"name": "   ", "scopes": []}, "name"),
        ({"name": "n" * 101, "scopes": []}, "name"),
    ],
)
async def test_bad_token_requests_are_bad_input(http, alice: Persona, variables: dict[str, Any], field: str):
    result = await gql(http, CREATE_TOKEN, variables, headers=await _alice_jwt(http), cookies=False)
    assert result.status == 200
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert field in result.errors[0]["extensions"]["fields"]
    assert await Credential.filter(kind=CredentialKind.API_TOKEN).count() == 0


@pytest.mark.parametrize("days", [1, 366])
async def test_expiry_at_the_limits_is_accepted(http, alice: Persona, days: int):
    payload = await create_token(http, await _alice_jwt(http), days=days)
    expires = datetime.fromisoformat(payload["credential"]["expiresAt"])
    assert abs(expires - (utcnow() + timedelta(days=days))) < timedelta(minutes=1)


async def test_expired_token_is_rejected(http, alice: Persona):
    value = (await create_token(http, await _alice_jwt(http), days=1))["token"]
    with time_machine.travel(utcnow() + timedelta(hours=23), tick=False):
        assert (await gql(http, ME, headers=token(value), cookies=False)).data["me"]["id"] == alice.id
    with time_machine.travel(utcnow() + timedelta(days=1, seconds=1), tick=False):
        result = await gql(http, ME, headers=token(value), cookies=False)
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == TOKEN_CHALLENGE


async def _last_used(credential_id: str) -> datetime | None:
    row = await Credential.get(id=credential_id)
    return as_utc(row.last_used_at) if row.last_used_at is not None else None


async def test_last_used_is_written_at_most_once_a_minute(http, alice: Persona):
    start = datetime(2031, 5, 1, 9, 0, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        payload = await create_token(http, await _alice_jwt(http))
        value, credential_id = payload["token"], payload["credential"]["id"]
        assert await _last_used(credential_id) is None

        await gql(http, ME, headers=token(value), cookies=False)
        assert await _last_used(credential_id) == start

        traveller.shift(timedelta(seconds=30))
        await gql(http, ME, headers=token(value), cookies=False)
        assert await _last_used(credential_id) == start  # within the minute: no write

        traveller.shift(timedelta(minutes=2))
        await gql(http, ME, headers=token(value), cookies=False)
        assert await _last_used(credential_id) == start + timedelta(minutes=2, seconds=30)


async def test_last_used_is_shown_in_the_listing(http, alice: Persona):
    jwt = await _alice_jwt(http)
    payload = await create_token(http, jwt, ["credentials:read"])
    await gql(http, ME, headers=token(payload["token"]), cookies=False)
    listed = await gql(http, MY_CREDENTIALS, headers=jwt, cookies=False)
    row = next(c for c in listed.data["myCredentials"] if c["id"] == payload["credential"]["id"])
    assert row["lastUsedAt"] is not None


async def test_tokens_of_one_user_never_work_for_another(http, alice: Persona, bob: Persona):
    alice_token = (await create_token(http, await _alice_jwt(http)))["token"]
    bob_token = (await create_token(http, jwt_headers(await bearer_login(http, "bob"))))["token"]
    assert alice_token != bob_token
    assert (await gql(http, ME, headers=token(bob_token), cookies=False)).data["me"]["id"] == bob.id
