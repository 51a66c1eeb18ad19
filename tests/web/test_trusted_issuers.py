"""`TRUSTED_ISSUERS`: the real provider's JWT access tokens as bearer credentials of the
linked local user (kind EXTERNAL), with signature, iss, aud, exp checked; an unlinked
`sub` is UNAUTHENTICATED (401, Bearer challenge); revoking the link, deactivating the user
and logging out everywhere are felt on the very next request; Gatehouse's own tokens keep
working beside them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
import time_machine

from core.settings import Settings
from models import User
from tests.helpers import BEARER_CHALLENGE, bearer, bearer_login, gql, make_persona, oidc_fixtures
from tests.helpers.federation import CREDENTIALS, ME, Browser, federated_settings
from tests.helpers.oidc_provider import RESOURCE, OpenIDProvider, RegisteredClient

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp_client = oidc_fixtures.browser, oidc_fixtures.idp_client

SCOPES = "openid email profile me users:read credentials:read"


@pytest.fixture(scope="module")
def idp() -> Iterator[OpenIDProvider]:
    accounts = {
        "ext-alice": {
            "email": "alice.ext@example.com",
            "email_verified": True,
            "preferred_username": "alice_ext",
        },
        "ext-stranger": {"email": "stranger@example.com", "email_verified": True},
    }
    with OpenIDProvider(accounts=accounts) as running:
        yield running


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient) -> Settings:
    return federated_settings(idp, idp_client, trusted=[{"issuer": idp.issuer, "audience": RESOURCE}])


async def access_token(
    idp: OpenIDProvider, client: RegisteredClient, login_hint: str = "ext-alice", scope: str = SCOPES
) -> str:
    tokens = await idp.code_flow_tokens(client, login_hint=login_hint, scope=scope, resource=RESOURCE)
    return str(tokens["access_token"])


@pytest.fixture
async def linked(browser: Browser) -> str:
    """ext-alice signs in once through the browser flow: her account and its link exist."""
    assert (await browser.sign_in(login_hint="ext-alice")).status_code == 200
    user_id: str = (await browser.me())["id"]
    browser.http.cookies.clear()
    return user_id


async def test_a_linked_users_provider_token_is_a_credential(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str
):
    token = await access_token(idp, idp_client)
    me = await gql(http, ME, headers=bearer(token), cookies=False)
    assert me.status == 200 and me.data["me"]["id"] == linked, me.body
    listed = await gql(http, CREDENTIALS, headers=bearer(token), cookies=False)
    [current] = [c for c in listed.data["myCredentials"] if c["current"]]
    assert current["kind"] == "EXTERNAL" and current["name"] == "harness"


async def test_the_tokens_scopes_limit_it(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str
):
    token = await access_token(idp, idp_client, scope="openid me")
    assert (await gql(http, ME, headers=bearer(token), cookies=False)).data["me"]["id"] == linked
    refused = await gql(http, CREDENTIALS, headers=bearer(token), cookies=False)
    assert refused.codes == ["FORBIDDEN"]


async def test_an_unlinked_subject_is_unauthenticated(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str
):
    token = await access_token(idp, idp_client, login_hint="ext-stranger")
    refused = await gql(http, ME, headers=bearer(token), cookies=False)
    assert refused.status == 401 and refused.codes == ["UNAUTHENTICATED"]
    assert refused.headers["www-authenticate"] == BEARER_CHALLENGE
    assert await User.filter(email="stranger@example.com").count() == 0


async def test_an_id_token_is_no_access_token(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str
):
    tokens = await idp.code_flow_tokens(idp_client, login_hint="ext-alice", scope=SCOPES, resource=RESOURCE)
    refused = await gql(http, ME, headers=bearer(tokens["id_token"]), cookies=False)
    assert refused.status == 401  # its audience is the client, not the API


async def test_an_expired_token_is_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str
):
    token = await access_token(idp, idp_client)
    with time_machine.travel(datetime.now().astimezone() + timedelta(seconds=300 + 61), tick=True):
        refused = await gql(http, ME, headers=bearer(token), cookies=False)
    assert refused.status == 401


async def test_a_tampered_token_is_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str
):
    header, payload, signature = (await access_token(idp, idp_client)).split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    refused = await gql(http, ME, headers=bearer(f"{header}.{payload}.{flipped}"), cookies=False)
    assert refused.status == 401


async def test_revoking_the_link_is_felt_on_the_next_request(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str, browser: Browser
):
    token = await access_token(idp, idp_client)
    for _ in range(3):  # warm: the link is cached from the second request on
        assert (await gql(http, ME, headers=bearer(token), cookies=False)).data["me"]["id"] == linked
    # The account gets a password first: its only link is never unlinked (the last way in).
    await User.filter(id=linked).update(password_hash="a stored hash")
    assert (await browser.sign_in(login_hint="ext-alice")).status_code == 200
    listed = await gql(http, CREDENTIALS)
    external = next(c for c in listed.data["myCredentials"] if c["kind"] == "EXTERNAL")
    revoked = await gql(http, "mutation($id: ID!) { revokeCredential(id: $id) }", {"id": external["id"]})
    assert revoked.data == {"revokeCredential": True}, revoked.body
    refused = await gql(http, ME, headers=bearer(token), cookies=False)
    assert refused.status == 401 and refused.headers["www-authenticate"] == BEARER_CHALLENGE


async def test_deactivation_is_felt_on_the_next_request(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str, admin
):
    token = await access_token(idp, idp_client)
    for _ in range(3):
        assert (await gql(http, ME, headers=bearer(token), cookies=False)).status == 200
    admin_headers = bearer((await bearer_login(http, admin.username))["accessToken"])
    off = await gql(
        http,
        "mutation($u: ID!) { setUserActive(userId: $u, active: false) { id } }",
        {"u": linked},
        headers=admin_headers,
        cookies=False,
    )
    assert not off.errors, off.body
    assert (await gql(http, ME, headers=bearer(token), cookies=False)).status == 401


async def test_logout_everywhere_refuses_older_provider_tokens_and_keeps_the_link(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str, browser: Browser
):
    token = await access_token(idp, idp_client)
    assert (await gql(http, ME, headers=bearer(token), cookies=False)).status == 200
    assert (await browser.sign_in(login_hint="ext-alice")).status_code == 200
    everywhere = await gql(http, "mutation { logout(everywhere: true) }")
    assert everywhere.data == {"logout": True}, everywhere.body
    assert (await gql(http, ME, headers=bearer(token), cookies=False)).status == 401
    await asyncio.sleep(1.1)  # `iat` counts whole seconds: a token of the next second
    newer = await access_token(idp, idp_client)
    assert (await gql(http, ME, headers=bearer(newer), cookies=False)).data["me"]["id"] == linked


async def test_logout_with_a_provider_token_ends_it_and_keeps_the_link(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient, linked: str
):
    token = await access_token(idp, idp_client)
    out = await gql(http, "mutation { logout }", headers=bearer(token), cookies=False)
    assert out.data == {"logout": True}, out.body
    assert (await gql(http, ME, headers=bearer(token), cookies=False)).status == 401
    await asyncio.sleep(1.1)
    newer = await access_token(idp, idp_client)
    assert (await gql(http, ME, headers=bearer(newer), cookies=False)).status == 200


async def test_gatehouse_tokens_keep_working_beside_them(http: httpx.AsyncClient, linked: str):
    alice = await make_persona(http, "alice")
    own = await bearer_login(http, "alice")
    me = await gql(http, ME, headers=bearer(own["accessToken"]), cookies=False)
    assert me.data["me"]["id"] == alice.id
    forged = own["accessToken"][:-4] + "AAAA"
    assert (await gql(http, ME, headers=bearer(forged), cookies=False)).status == 401
