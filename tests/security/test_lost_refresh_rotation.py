"""A committed credential that never reaches the client.

The attack (on availability, and on the client's trust in reuse detection): the server
spends a refresh token, commits the rotation, then fails the rest of the operation, so the
answer carries no successor. The client's honest retry presents the spent token again,
which counts as reuse and ends the whole family. Variants: a payload field checked against
the wrong identity (`refreshToken { user { email } }`), a later root field whose error nulls
`data` after the credential field committed, and a database error between spending the
token and storing its successor. API tokens (`createApiToken`) and sign-ins are held to the
same rule: a committed credential reaches the client, or nothing is committed.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tortoise.exceptions import OperationalError

from auth.keyring import add_key
from core.settings import Secret
from models import Credential, CredentialKind, RefreshToken, User
from tests.helpers import (
    LOGIN,
    ME,
    REGISTER,
    STRONG_PASSWORD,
    TEST_SECRET,
    Persona,
    bearer,
    bearer_login,
    create_token,
    gql,
    jwt_headers,
    login_variables,
    session_cookie_value,
    token,
)

EVERY_USER_FIELD = "user { id username email roles createdAt }"
EVERY_AUTH_FIELD = f"{EVERY_USER_FIELD} accessToken refreshToken tokenType expiresIn"
REFRESH_ALL = f"mutation($t: String!) {{ refreshToken(refreshToken: $t) {{ {EVERY_AUTH_FIELD} }} }}"
CREDENTIAL_FIELDS = "id kind name scopes createdAt lastUsedAt expiresAt userAgent current"


async def _rotate(http: httpx.AsyncClient, refresh_token: str, headers: dict[str, str] | None = None):
    return await gql(http, REFRESH_ALL, {"t": refresh_token}, headers=headers, cookies=False)


def _assert_delivered(result: Any, user: Persona) -> dict[str, Any]:
    assert result.status == 200 and not result.errors, result.body
    payload: dict[str, Any] = result.data["refreshToken"]
    assert payload["user"]["id"] == user.id
    assert payload["user"]["email"] == user.email
    assert payload["accessToken"] and payload["refreshToken"] and payload["tokenType"] == "Bearer"
    return payload


async def test_a_rotation_asked_for_the_users_email_reaches_the_client(http, alice: Persona):
    tokens = await bearer_login(http, "alice")

    payload = _assert_delivered(await _rotate(http, tokens["refreshToken"]), alice)

    # The successor works, and so does the new access token: the family is alive.
    assert (await gql(http, ME, headers=bearer(payload["accessToken"]), cookies=False)).status == 200
    _assert_delivered(await _rotate(http, payload["refreshToken"]), alice)


@pytest.mark.parametrize("other_kind", ["jwt", "token"])
async def test_a_rotation_sent_with_another_users_credential_answers_as_the_refreshed_user(
    http, alice: Persona, bob: Persona, other_kind: str
):
    bobs = jwt_headers(await bearer_login(http, "bob"))
    if other_kind == "token":
        bobs = token((await create_token(http, bobs, []))["token"])
    tokens = await bearer_login(http, "alice")

    payload = _assert_delivered(await _rotate(http, tokens["refreshToken"], headers=bobs), alice)

    assert payload["user"]["username"] == "alice"


@pytest.mark.parametrize("transport", ["BEARER", "COOKIE"])
async def test_sign_in_payloads_resolve_every_field(http, alice: Persona, transport: str):
    login = f"""mutation($i: LoginInput!) {{ login(input: $i) {{ {EVERY_AUTH_FIELD} }} }}"""
    register = f"""mutation($i: RegisterInput!) {{ register(input: $i) {{ {EVERY_AUTH_FIELD} }} }}"""
    # Sent with another user's token: the payload is still the signed-in user's.
    other = token((await create_token(http, jwt_headers(await bearer_login(http, "alice")), []))["token"])
    signed_in = await gql(
        http,
        login,
        {"i": {"login": "alice", "password": STRONG_PASSWORD, "transport": transport}},
        headers=other,
        cookies=False,
    )
    registered = await gql(
        http,
        register,
        {
            "i": {
                "username": "carol",
                "email": "carol@example.com",
                "password": STRONG_PASSWORD,
                "transport": transport,
            }
        },
        headers=other,
        cookies=False,
    )
    for result, name, email in (
        (signed_in, "login", alice.email),
        (registered, "register", "carol@example.com"),
    ):
        assert result.status == 200 and not result.errors, result.body
        assert result.data[name]["user"]["email"] == email
        if transport == "BEARER":
            assert result.data[name]["accessToken"] and result.data[name]["refreshToken"]
        else:
            assert session_cookie_value(result)


async def test_a_new_api_token_reaches_the_client_with_every_field(http, alice: Persona):
    headers = jwt_headers(await bearer_login(http, "alice"))
    result = await gql(
        http,
        f'mutation {{ createApiToken(name: "ci") {{ token credential {{ {CREDENTIAL_FIELDS} }} }} }}',
        headers=headers,
        cookies=False,
    )
    assert result.status == 200 and not result.errors, result.body
    value = result.data["createApiToken"]["token"]
    assert (await gql(http, ME, headers=token(value), cookies=False)).data["me"]["id"] == alice.id


# -- a later root field failing after the credential was committed ------------------------

NOT_AN_ID = "not-an-id"


@pytest.mark.parametrize(
    "after",
    [
        f'revokeCredential(id: "{NOT_AN_ID}")',
        'grantRole(userId: "x", role: "admin") { id }',
        "logout",
    ],
)
async def test_a_refresh_cannot_share_its_operation_with_a_field_that_may_fail(
    http, alice: Persona, after: str
):
    tokens = await bearer_login(http, "alice")
    document = (
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } " + after + " }"
    )

    result = await gql(http, document, {"t": tokens["refreshToken"]}, cookies=False)

    # Refused before anything ran: the refresh token was not spent.
    assert "data" not in result.body and result.codes == ["GRAPHQL_VALIDATION_FAILED"], result.body
    assert await RefreshToken.filter(used_at__isnull=False).count() == 0
    _assert_delivered(await _rotate(http, tokens["refreshToken"]), alice)


@pytest.mark.parametrize(
    "document",
    [
        f'mutation {{ createApiToken(name: "lost") {{ token }} revokeCredential(id: "{NOT_AN_ID}") }}',
        f'mutation {{ revokeCredential(id: "{NOT_AN_ID}") createApiToken(name: "lost") {{ token }} }}',
        'mutation { a: createApiToken(name: "lost") { token } b: createApiToken(name: "") { token } }',
        'mutation { ...F } fragment F on Mutation { createApiToken(name: "lost") { token } logout }',
    ],
)
async def test_a_new_api_token_cannot_share_its_operation(http, alice: Persona, document: str):
    headers = jwt_headers(await bearer_login(http, "alice"))

    result = await gql(http, document, headers=headers, cookies=False)

    assert "data" not in result.body and result.codes == ["GRAPHQL_VALIDATION_FAILED"], result.body
    assert await Credential.filter(kind=CredentialKind.API_TOKEN).count() == 0


@pytest.mark.parametrize(
    "document",
    [
        "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } logout }",
        'mutation($i: LoginInput!) { login(input: $i) { accessToken } revokeCredential(id: "x") }',
    ],
)
async def test_a_sign_in_cannot_share_its_operation(http, alice: Persona, document: str):
    families = await Credential.filter(kind=CredentialKind.REFRESH).count()
    result = await gql(
        http,
        document,
        {"i": {"login": "alice", "password": STRONG_PASSWORD, "transport": "BEARER"}},
        cookies=False,
    )
    assert "data" not in result.body and result.codes == ["GRAPHQL_VALIDATION_FAILED"], result.body
    assert await Credential.filter(kind=CredentialKind.REFRESH).count() == families


async def test_typename_beside_a_credential_field_is_fine(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    document = "mutation($t: String!) { __typename refreshToken(refreshToken: $t) { refreshToken } }"
    result = await gql(http, document, {"t": tokens["refreshToken"]}, cookies=False)
    assert result.status == 200 and not result.errors, result.body
    assert result.data["__typename"] == "Mutation"


# -- a database error between spending the token and storing its successor -----------------


async def test_a_rotation_that_fails_to_store_its_successor_spends_nothing(
    http, alice: Persona, monkeypatch: pytest.MonkeyPatch
):
    tokens = await bearer_login(http, "alice")
    original = RefreshToken.create.__func__  # type: ignore[attr-defined]

    async def failing(cls: type[RefreshToken], **kwargs: Any) -> RefreshToken:
        raise OperationalError("connection reset while storing the successor")

    monkeypatch.setattr(RefreshToken, "create", classmethod(failing))
    failed = await _rotate(http, tokens["refreshToken"])
    assert failed.status >= 500 and failed.data is None, failed.body
    monkeypatch.setattr(RefreshToken, "create", classmethod(original))

    # The client retries with the same token: a retry, not a reuse.
    payload = _assert_delivered(await _rotate(http, tokens["refreshToken"]), alice)
    assert (await gql(http, ME, headers=bearer(payload["accessToken"]), cookies=False)).status == 200


# -- no key to sign the access token with (every live key unreadable here) ------------


async def test_a_rotation_while_no_key_can_sign_spends_nothing_and_signs_in_nobody(http, app, alice: Persona):
    # The only key this instance decrypts is retired while a newer one, stored under
    # another SECRET_KEY, stays: issuing fails (INTERNAL_SERVER_ERROR) until a key this
    # instance can sign with is back. The refresh token must not be spent meanwhile, or
    # the client's retry counts as reuse and ends its family; no sign-in row is left.
    tokens = await bearer_login(http, "alice")
    ring = app.state.backend.keyring
    ours = ring.signer.kid
    await add_key(ring.store, ring.algorithm, Secret("another-secret-key-that-is-long-enough-1111111111"))
    await ring.store.retire(ours)
    await ring.reload()
    families = await Credential.filter(kind=CredentialKind.REFRESH).count()

    failed = await _rotate(http, tokens["refreshToken"])
    assert failed.codes == ["INTERNAL_SERVER_ERROR"], failed.body
    refused_login = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)
    assert refused_login.codes == ["INTERNAL_SERVER_ERROR"], refused_login.body
    assert await Credential.filter(kind=CredentialKind.REFRESH).count() == families

    await add_key(ring.store, ring.algorithm, Secret(TEST_SECRET))  # rotate-keys, fixed
    await ring.reload()
    payload = _assert_delivered(await _rotate(http, tokens["refreshToken"]), alice)  # a retry
    assert (await gql(http, ME, headers=bearer(payload["accessToken"]), cookies=False)).status == 200


def _register_variables(username: str, transport: str) -> dict[str, Any]:
    return {
        "input": {
            "username": username,
            "email": f"{username}@example.com",
            "password": STRONG_PASSWORD,
            "transport": transport,
        }
    }


async def test_a_bearer_registration_while_no_key_can_sign_creates_no_account(http, app):
    # Created and then refused, the account would make the client's retry answer
    # "username taken" for a registration that never reached it.
    ring = app.state.backend.keyring
    ours = ring.signer.kid
    await add_key(ring.store, ring.algorithm, Secret("another-secret-key-that-is-long-enough-1111111111"))
    await ring.store.retire(ours)
    await ring.reload()

    failed = await gql(http, REGISTER, _register_variables("zed", "BEARER"), cookies=False)
    assert failed.codes == ["INTERNAL_SERVER_ERROR"], failed.body
    assert not await User.filter(username="zed").exists()
    # A cookie registration needs no signature: it goes ahead.
    by_cookie = await gql(http, REGISTER, _register_variables("cora", "COOKIE"), cookies=False)
    assert not by_cookie.errors and by_cookie.data["register"]["user"]["username"] == "cora", by_cookie.body

    await add_key(ring.store, ring.algorithm, Secret(TEST_SECRET))  # rotate-keys, fixed
    await ring.reload()
    retried = await gql(http, REGISTER, _register_variables("zed", "BEARER"), cookies=False)
    assert not retried.errors, retried.body
    access = retried.data["register"]["accessToken"]
    assert (await gql(http, ME, headers=bearer(access), cookies=False)).data["me"]["username"] == "zed"
