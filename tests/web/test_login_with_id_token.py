"""`loginWithIdToken`: a native app's ID token from the real OpenID provider, verified
(signature from the provider's JWKS, iss, aud, exp, nonce), used once, answering bearer
tokens (or the session cookie with COOKIE) like login; every refusal is one answer."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import jwt as pyjwt
import pytest
import time_machine

from core.settings import Settings
from models import Credential, CredentialKind, User
from tests.helpers import bearer, gql, make_persona, oidc_fixtures
from tests.helpers.federation import ID_TOKEN_LOGIN, ME, PROVIDER, callback_uri, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
idp = oidc_fixtures.idp

NONCE = "app-nonce-0123456789"


@pytest.fixture(scope="module")
def web_client(idp: OpenIDProvider) -> RegisteredClient:
    return idp.register_client([callback_uri()])


@pytest.fixture(scope="module")
def mobile_client(idp: OpenIDProvider) -> RegisteredClient:
    # A native app: a public client with its own id and a custom-scheme redirect.
    return idp.register_client(["com.example.app:/oauth"], public=True, application_type="native")


@pytest.fixture
def settings(idp: OpenIDProvider, web_client: RegisteredClient, mobile_client: RegisteredClient) -> Settings:
    return federated_settings(
        idp,
        web_client,
        entry={"mobile_client_ids": [mobile_client.client_id]},
        login_limit_per_ip="20/minute",
    )


async def id_token(idp: OpenIDProvider, client: RegisteredClient, nonce: str | None = NONCE, **kw) -> str:
    return str((await idp.code_flow_tokens(client, nonce=nonce, **kw))["id_token"])


async def sign_in(http: httpx.AsyncClient, token: str, nonce: str | None = NONCE, **variables):
    return await gql(
        http,
        ID_TOKEN_LOGIN,
        {"provider": PROVIDER, "idToken": token, "nonce": nonce, **variables},
        cookies=False,
    )


async def test_an_apps_id_token_signs_in_with_bearer_tokens(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    result = await sign_in(http, await id_token(idp, mobile_client))
    assert result.status == 200 and not result.errors, result.body
    payload = result.data["loginWithIdToken"]
    assert payload["tokenType"] == "Bearer" and payload["refreshToken"] and payload["expiresIn"] > 0
    assert payload["user"]["username"] == "alice_ext" and payload["user"]["emailVerified"]
    assert "set-cookie" not in result.headers
    me = await gql(http, ME, headers=bearer(payload["accessToken"]), cookies=False)
    assert me.data["me"]["id"] == payload["user"]["id"]
    claims = pyjwt.decode(payload["accessToken"], options={"verify_signature": False})
    assert claims["amr"] == ["ext"]
    family = await Credential.get(id=claims["sid"])
    assert family.kind == CredentialKind.REFRESH and family.amr == ["ext"]


async def test_the_web_clients_id_token_is_accepted_too_and_cookie_transport_sets_the_session(
    http: httpx.AsyncClient, idp: OpenIDProvider, web_client: RegisteredClient
):
    result = await sign_in(http, await id_token(idp, web_client), transport="COOKIE")
    assert not result.errors, result.body
    assert result.data["loginWithIdToken"]["accessToken"] is None
    assert result.headers["set-cookie"].startswith("session=")


async def test_a_token_is_used_once(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    token = await id_token(idp, mobile_client)
    assert not (await sign_in(http, token)).errors
    replayed = await sign_in(http, token)
    assert replayed.status == 401 and replayed.codes == ["UNAUTHENTICATED"]


async def test_the_nonce_must_be_the_apps(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    token = await id_token(idp, mobile_client)
    for nonce in ("another-nonce", None, ""):
        refused = await sign_in(http, token, nonce=nonce)
        assert refused.codes == ["UNAUTHENTICATED"], (nonce, refused.body)
    assert not (await sign_in(http, token)).errors  # refusals did not spend it


async def test_a_token_without_a_nonce_is_accepted_without_one_and_refused_with_one(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    refused = await sign_in(http, await id_token(idp, mobile_client, nonce=None), nonce=NONCE)
    assert refused.codes == ["UNAUTHENTICATED"]
    accepted = await sign_in(http, await id_token(idp, mobile_client, nonce=None), nonce=None)
    assert not accepted.errors, accepted.body


async def test_an_expired_token_is_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    token = await id_token(idp, mobile_client)
    # The provider's ID tokens live 300 s; a minute of leeway is allowed for clock skew.
    with time_machine.travel(datetime.now().astimezone() + timedelta(seconds=300 + 61), tick=True):
        refused = await sign_in(http, token)
    assert refused.codes == ["UNAUTHENTICATED"]


async def test_a_tampered_token_is_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    token = await id_token(idp, mobile_client)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (f"{header}.{payload}.{flipped}", "not a token", "a.b.c", token[:100], "x" * 20000):
        refused = await sign_in(http, bad)
        assert refused.codes == ["UNAUTHENTICATED"], bad[:40]


async def test_an_unknown_provider_is_bad_input(http: httpx.AsyncClient):
    refused = await gql(http, ID_TOKEN_LOGIN, {"provider": "nobody", "idToken": "x"}, cookies=False)
    assert refused.codes == ["BAD_USER_INPUT"]


async def test_an_existing_accounts_email_needs_a_link(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    await make_persona(http, "carol")
    idp.put_account("ext-carol", email="carol@example.com", email_verified=True, preferred_username="carol")
    refused = await sign_in(http, await id_token(idp, mobile_client, login_hint="ext-carol"))
    assert refused.status == 403 and refused.codes == ["ACCOUNT_LINK_REQUIRED"]
    assert refused.errors[0]["extensions"]["reason"] == "EMAIL_IN_USE"
    assert await User.all().count() == 1


async def test_an_unverified_email_makes_no_account(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    idp.put_account("ext-dave", email="dave@example.com", email_verified=False, preferred_username="dave")
    refused = await sign_in(http, await id_token(idp, mobile_client, login_hint="ext-dave"))
    assert refused.codes == ["ACCOUNT_LINK_REQUIRED"]
    assert refused.errors[0]["extensions"]["reason"] == "PROVIDER_EMAIL_UNVERIFIED"
    assert await User.all().count() == 0


async def test_a_disabled_account_gets_the_same_answer_as_a_bad_token(
    http: httpx.AsyncClient, idp: OpenIDProvider, mobile_client: RegisteredClient
):
    first = await sign_in(http, await id_token(idp, mobile_client))
    await User.filter(id=first.data["loginWithIdToken"]["user"]["id"]).update(is_active=False)
    refused = await sign_in(http, await id_token(idp, mobile_client))
    bad = await sign_in(http, "a.b.c")
    assert refused.codes == bad.codes == ["UNAUTHENTICATED"]
    assert refused.errors[0]["message"] == bad.errors[0]["message"]


async def test_sign_ins_count_against_the_login_limit(http: httpx.AsyncClient):
    answers = [await sign_in(http, "a.b.c") for _ in range(21)]
    assert all(a.codes == ["UNAUTHENTICATED"] for a in answers[:20])
    assert answers[20].status == 429 and answers[20].codes == ["RATE_LIMITED"]
    assert "retryAfter" in answers[20].errors[0]["extensions"]


async def test_it_is_alone_in_its_operation(http: httpx.AsyncClient):
    doubled = await gql(
        http,
        'mutation { a: loginWithIdToken(provider: "harness", idToken: "x") { user { id } } '
        'b: loginWithIdToken(provider: "harness", idToken: "y") { user { id } } }',
        cookies=False,
    )
    assert doubled.codes == ["GRAPHQL_VALIDATION_FAILED"] and "data" not in doubled.body
