"""A provider that follows OpenID Connect Core to the letter for the code flow: the ID
token carries `sub` and no email (the scopes' claims are at the UserInfo endpoint, 5.3).
The real oidc-provider with `conformIdTokenClaims` on; Gatehouse reads the address from
UserInfo with the flow's access token, and only for the ID token's own subject."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.settings import Settings
from models import ExternalIdentity, User
from tests.helpers import oidc_fixtures
from tests.helpers.federation import Browser, error_of, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp_client = oidc_fixtures.browser, oidc_fixtures.idp_client

APP = "http://app.example"


@pytest.fixture(scope="module")
def idp() -> Iterator[OpenIDProvider]:
    # No resource indicator: the access token is the provider's own, good at UserInfo.
    with OpenIDProvider(resource=False, conform_id_token_claims=True) as running:
        yield running


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient) -> Settings:
    return federated_settings(idp, idp_client, allowed_origins=(APP,))


async def test_the_address_comes_from_userinfo_when_the_id_token_has_none(browser: Browser):
    response = await browser.sign_in(login_hint="ext-alice", redirect_to=f"{APP}/welcome")
    assert response.status_code == 303 and response.headers["location"] == f"{APP}/welcome", response.headers
    me = await browser.me()
    assert me["username"] == "alice_ext" and me["email"] == "alice.ext@example.com" and me["emailVerified"]
    link = await ExternalIdentity.get(user_id=me["id"])
    assert link.email == "alice.ext@example.com"


async def test_an_unverified_address_from_userinfo_makes_no_account(browser: Browser, idp: OpenIDProvider):
    idp.put_account("ext-carol", email="carol@example.com", email_verified=False, preferred_username="carol")
    response = await browser.sign_in(login_hint="ext-carol", redirect_to=f"{APP}/welcome")
    assert response.status_code == 303
    assert error_of(response) == ("account_link_required", "provider_email_unverified")
    assert await User.all().count() == 0
