"""Account pre-hijacking through a provider's email: an account that already has the
address a provider gives is never joined by a sign-in, whether the provider says the
address is verified or not (the callback answers `account_link_required`; its owner signs
in and links); a provider that does not vouch for its address makes no account at all,
so nobody can hold an address they never proved, and the answer for an unverified
address is the same whether an account has it or not. Real OpenID provider."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from core.settings import Settings
from models import Credential, CredentialKind, ExternalIdentity, User
from tests.helpers import STRONG_PASSWORD, cookie_login, gql, login_variables, make_persona, oidc_fixtures
from tests.helpers.federation import (
    ID_TOKEN_LOGIN,
    PROVIDER,
    Browser,
    error_of,
    federated_settings,
)
from tests.helpers.graphql import LOGIN
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp_client = oidc_fixtures.browser, oidc_fixtures.idp_client

APP = "http://app.example"


@pytest.fixture(scope="module")
def idp() -> Iterator[OpenIDProvider]:
    accounts = {
        "victim-verified": {"email": "victim@example.com", "email_verified": True, "preferred_username": "v"},
        "victim-shouting": {"email": "VICTIM@Example.COM", "email_verified": True},
        "claims-victim": {"email": "victim@example.com", "email_verified": False},
        "claims-stranger": {"email": "stranger@example.com", "email_verified": False},
        "says-true-as-text": {"email": "text@example.com", "email_verified": "true"},
        "no-email": {"preferred_username": "nomail"},
    }
    with OpenIDProvider(accounts=accounts) as running:
        yield running


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient) -> Settings:
    return federated_settings(idp, idp_client, allowed_origins=(APP,))


async def sessions_of(user_id: str) -> int:
    return await Credential.filter(
        user_id=user_id, kind=CredentialKind.SESSION, revoked_at__isnull=True
    ).count()


@pytest.mark.parametrize("login_hint", ["victim-verified", "victim-shouting", "claims-victim"])
async def test_an_existing_account_is_never_joined_through_its_email(
    browser: Browser, http: httpx.AsyncClient, login_hint: str
):
    # The attacker registers the victim's address first (unverified, with a password).
    holder = await make_persona(http, "victim")
    before = await sessions_of(holder.id)
    response = await browser.sign_in(login_hint=login_hint, redirect_to=f"{APP}/back")
    code, reason = error_of(response)
    assert code == "account_link_required"
    assert reason == ("provider_email_unverified" if login_hint == "claims-victim" else "email_in_use")
    assert await ExternalIdentity.all().count() == 0
    assert await sessions_of(holder.id) == before
    assert (await gql(http, "{ me { id } }")).data["me"] is None
    # The account holder's password still works, and nothing of the provider came with it.
    assert not (await gql(http, LOGIN, login_variables("victim", STRONG_PASSWORD), cookies=False)).errors


async def test_an_unverified_address_gets_one_answer_whether_an_account_has_it_or_not(browser: Browser, http):
    await make_persona(http, "victim")
    taken = await browser.sign_in(login_hint="claims-victim", redirect_to=f"{APP}/back")
    free = await browser.sign_in(login_hint="claims-stranger", redirect_to=f"{APP}/back")
    assert error_of(taken) == error_of(free) == ("account_link_required", "provider_email_unverified")
    assert await User.filter(email="stranger@example.com").count() == 0


@pytest.mark.parametrize("login_hint", ["says-true-as-text", "no-email"])
async def test_an_address_the_provider_does_not_vouch_for_makes_no_account(browser: Browser, login_hint: str):
    response = await browser.sign_in(login_hint=login_hint, redirect_to=f"{APP}/back")
    assert error_of(response) == ("account_link_required", "provider_email_unverified")
    assert await User.all().count() == 0


async def test_the_mobile_sign_in_holds_the_same_rule(
    http: httpx.AsyncClient, idp: OpenIDProvider, idp_client: RegisteredClient
):
    await make_persona(http, "victim")
    for hint, reason in (("victim-verified", "EMAIL_IN_USE"), ("claims-victim", "PROVIDER_EMAIL_UNVERIFIED")):
        token = (await idp.code_flow_tokens(idp_client, nonce="n", login_hint=hint))["id_token"]
        refused = await gql(
            http, ID_TOKEN_LOGIN, {"provider": PROVIDER, "idToken": token, "nonce": "n"}, cookies=False
        )
        assert (
            refused.codes == ["ACCOUNT_LINK_REQUIRED"] and refused.errors[0]["extensions"]["reason"] == reason
        )
    assert await ExternalIdentity.all().count() == 0


async def test_only_the_signed_in_owner_links_and_only_then_the_provider_signs_in(
    browser: Browser, http: httpx.AsyncClient
):
    holder = await make_persona(http, "victim")
    await cookie_login(http, "victim")
    begun = await browser.link(redirect_to=f"{APP}/linked")
    landed = await browser.at_provider(begun.data["linkExternalIdentity"]["url"], "victim-verified")
    assert (await browser.callback(landed)).status_code == 303
    http.cookies.clear()
    assert (await browser.sign_in(login_hint="victim-verified")).status_code == 200
    assert (await browser.me())["id"] == holder.id
