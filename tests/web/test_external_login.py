"""Browser sign-in with another provider, through the real app and the real OpenID provider
(npm oidc-provider): `beginExternalLogin`, the provider's login, `GET /auth/callback/{provider}`,
the session cookie and the redirect; a first sign-in makes an account without a password,
the next ones sign it in again; every failure comes back as a code, never a 500."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from models import Credential, CredentialKind, ExternalIdentity, ExternalLoginFlow, User
from tests.helpers import STRONG_PASSWORD, gql, login_variables, oidc_fixtures
from tests.helpers.federation import (
    CREDENTIALS,
    PROVIDER,
    Browser,
    callback_uri,
    error_of,
    federated_settings,
)
from tests.helpers.graphql import LOGIN
from tests.helpers.headers import basic
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient, query_of

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp, idp_client = oidc_fixtures.browser, oidc_fixtures.idp, oidc_fixtures.idp_client

APP = "http://app.example"


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient) -> Settings:
    idp.override_discovery()
    return federated_settings(idp, idp_client, allowed_origins=(APP,))


async def test_begin_answers_the_authorization_url_and_sets_the_flow_cookie(
    browser: Browser, idp: OpenIDProvider
):
    begun = await browser.begin(redirect_to=f"{APP}/done")
    url = begun.data["beginExternalLogin"]["url"]
    query = query_of(url)
    assert url.startswith(f"{idp.issuer}/auth?")
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and query["redirect_uri"] == callback_uri()
    cookie = begun.headers["set-cookie"]
    assert cookie.startswith("gatehouse_flow=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Max-Age=600" in cookie and "Path=/" in cookie
    # Nothing of the flow is stored in clear: the row is keyed by the state's digest.
    assert await ExternalLoginFlow.filter(id=query["state"]).count() == 0
    assert await ExternalLoginFlow.all().count() == 1


async def test_a_first_sign_in_makes_an_account_and_signs_it_in(browser: Browser):
    response = await browser.sign_in(login_hint="ext-alice", redirect_to=f"{APP}/welcome")
    assert response.status_code == 303
    assert response.headers["location"] == f"{APP}/welcome"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert any(c.startswith("session=") and "HttpOnly" in c for c in response.headers.get_list("set-cookie"))
    me = await browser.me()
    assert me["username"] == "alice_ext" and me["email"] == "alice.ext@example.com" and me["emailVerified"]

    user = await User.get(id=me["id"])
    assert user.password_hash == ""  # no password: password sign-ins cannot succeed
    link = await ExternalIdentity.get(user_id=user.id)
    assert link.subject == "ext-alice" and link.created_account
    session = await Credential.filter(user_id=user.id, kind=CredentialKind.SESSION).first()
    assert session is not None and session.amr == ["ext"]


async def test_the_next_sign_in_finds_the_same_account(browser: Browser, http: httpx.AsyncClient):
    first = await browser.sign_in(login_hint="ext-alice")
    assert first.status_code == 200 and "Signed in" in first.text
    me = await browser.me()
    http.cookies.clear()
    again = await browser.sign_in(login_hint="ext-alice")
    assert again.status_code == 200
    assert (await browser.me())["id"] == me["id"]
    assert await User.all().count() == 1
    listed = await gql(http, CREDENTIALS)
    kinds = sorted(c["kind"] for c in listed.data["myCredentials"])
    assert kinds == ["EXTERNAL", "SESSION", "SESSION"]
    external = next(c for c in listed.data["myCredentials"] if c["kind"] == "EXTERNAL")
    assert external["name"] == PROVIDER and external["expiresAt"] is None and not external["current"]


async def test_a_relative_redirect_stays_on_the_server(browser: Browser):
    response = await browser.sign_in(login_hint="ext-alice", redirect_to="/graphql?x=1")
    assert response.status_code == 303 and response.headers["location"] == "http://testserver/graphql?x=1"


async def register_name(http: httpx.AsyncClient, username: str) -> None:
    register = await gql(
        http,
        "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }",
        {"i": {"username": username, "email": f"{username}@elsewhere.example", "password": STRONG_PASSWORD}},
        cookies=False,
    )
    assert not register.errors, register.body


async def test_a_username_that_is_taken_falls_back_to_the_email_then_gets_a_number(
    browser: Browser, http: httpx.AsyncClient, idp: OpenIDProvider
):
    await register_name(http, "bob_ext")
    idp.put_account("ext-bob", email="bob.ext@example.com", email_verified=True, preferred_username="Bob_Ext")
    assert (await browser.sign_in(login_hint="ext-bob")).status_code == 200
    assert (await browser.me())["username"] == "bob.ext"

    http.cookies.clear()
    await register_name(http, "carol")
    idp.put_account("ext-carol", email="carol@example.com", email_verified=True, preferred_username="carol")
    assert (await browser.sign_in(login_hint="ext-carol")).status_code == 200
    username = (await browser.me())["username"]
    assert username.startswith("carol-") and 3 <= len(username) <= 32


async def test_a_name_outside_the_alphabet_is_made_valid(browser: Browser, idp: OpenIDProvider):
    idp.put_account(
        "ext-jose", email="jose@example.com", email_verified=True, preferred_username="José Ñúñez!"
    )
    assert (await browser.sign_in(login_hint="ext-jose")).status_code == 200
    assert (await browser.me())["username"] == "Jose_Nunez"


async def test_an_account_made_by_a_provider_has_no_password_to_guess(
    browser: Browser, http: httpx.AsyncClient
):
    await browser.sign_in(login_hint="ext-alice")
    for password in ("", STRONG_PASSWORD):
        refused = await gql(http, LOGIN, login_variables("alice_ext", password), cookies=False)
        assert refused.codes == ["UNAUTHENTICATED"]
    saved = httpx.Cookies(http.cookies)
    http.cookies.clear()
    answer = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=basic("alice_ext", ""))
    http.cookies = saved
    assert answer.status_code == 401


async def test_the_provider_refusing_comes_back_as_a_code(browser: Browser):
    begun = await browser.begin(redirect_to=f"{APP}/back")
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"], "deny")
    assert query_of(landed)["error"] == "access_denied"
    response = await browser.callback(landed)
    assert response.status_code == 303
    assert error_of(response) == ("provider_error", None)
    assert response.headers["location"].startswith(f"{APP}/back?error=provider_error")
    assert await User.all().count() == 0


async def test_without_a_redirect_a_failure_is_a_page(browser: Browser):
    begun = await browser.begin()
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"], "deny")
    response = await browser.callback(landed)
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert error_of(response) == ("provider_error", None)
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_an_unknown_provider_is_bad_input(browser: Browser):
    begun = await browser.begin(provider="nobody")
    assert begun.codes == ["BAD_USER_INPUT"] and "provider" in begun.errors[0]["extensions"]["fields"]
    assert (await browser.http.get("/auth/callback/nobody?state=x&code=y")).status_code == 400


async def test_the_callback_takes_get_only(browser: Browser, http: httpx.AsyncClient):
    begun = await browser.begin()
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"])
    path = landed.removeprefix("http://testserver")
    for method in ("POST", "HEAD", "PUT"):
        response = await http.request(method, path)
        assert response.status_code == 405 and response.headers["allow"] == "GET", method
    # None of them spent the flow.
    assert (await browser.callback(landed)).status_code == 200


async def test_an_unreachable_provider_is_unavailable(http: httpx.AsyncClient, settings: Settings):
    assert settings.oidc_providers  # the harness; this test uses an app of its own
    from tests.helpers import app_client
    from tests.helpers.federation import providers_setting

    gone = settings.with_(
        oidc_providers=providers_setting({"name": "gone", "issuer": "http://127.0.0.1:9", "client_id": "x"})
    )
    async with app_client(gone) as other:
        begun = await Browser(other, None).begin(provider="gone")  # type: ignore[arg-type]
    assert begun.codes == ["SERVICE_UNAVAILABLE"] and begun.status == 503
