"""Token enumeration through `POST /oauth/introspect`: a service token, leaked or not,
must not tell a revoked token from an unknown one, nor test values without limit.

Every dead token (unknown, revoked, expired, malformed, a refresh token, a session id)
answers the same bytes and headers; an unknown and a revoked API token take the same
path (one lookup of the digest); each caller token has its own `INTROSPECT_LIMIT`.
"""

from __future__ import annotations

from models import User
from tests.helpers import (
    Persona,
    app_client,
    bearer_login,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    make_persona,
    make_settings,
)
from tests.helpers.introspection import INACTIVE, ask, introspector

LOGOUT = "mutation { logout }"
REVOKE = "mutation($id: ID!) { revokeCredential(id: $id) }"


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


async def test_each_caller_is_limited_on_its_own_with_retry_after(clean_backends):
    async with app_client(make_settings(introspect_limit="3/minute")) as http:
        admin = await make_persona(http, "root_admin")
        await User.filter(id=admin.id).update(roles=["admin"])
        first, second = await introspector(http, admin), await introspector(http, admin)
        for _ in range(3):
            assert (await ask(http, first, "x")).status_code == 200

        limited = await ask(http, first, "x")

        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["error"] == "rate_limited" and limited.json()["retry_after"] >= 1
        assert (await ask(http, second, "x")).status_code == 200
