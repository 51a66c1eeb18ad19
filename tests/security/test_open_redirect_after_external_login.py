"""Open redirects through `redirectTo`: a finished (or failed) provider sign-in sends the
browser only to an http(s) URL on the server's own origin or on ALLOWED_ORIGINS, checked
when the flow begins (`BAD_USER_INPUT`, nothing stored) and again at the callback (a
target no longer allowed gets the error page, not a redirect). Real OpenID provider."""

from __future__ import annotations

import pytest

from core.settings import Settings
from models import ExternalLoginFlow
from tests.helpers import oidc_fixtures
from tests.helpers.federation import Browser, error_of, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp, idp_client = oidc_fixtures.browser, oidc_fixtures.idp, oidc_fixtures.idp_client

APP = "https://app.example"
REFUSED = [
    "https://evil.example/",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "http://testserver@evil.example/",
    "http://testserver:x@evil.example/",
    "https://app.example@evil.example",
    "https://app.example.evil.example/",
    "https://evil.example#@app.example",
    "http://app.example/",  # the allowed origin is https
    "https://app.example:8443/",  # another port is another origin
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    " https://app.example/",
    "https://app.example/\r\nSet-Cookie: x=y",
    "evil.example",
    "https://" + "a" * 2100 + ".example",
]
ALLOWED = [
    ("/graphql", "http://testserver/graphql"),
    ("/welcome?next=%2Fhome#top", "http://testserver/welcome?next=%2Fhome#top"),
    ("http://testserver/done", "http://testserver/done"),
    ("https://app.example/done", "https://app.example/done"),
    ("https://APP.example:443/done", "https://APP.example:443/done"),
]


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient) -> Settings:
    return federated_settings(idp, idp_client, allowed_origins=(APP,))


@pytest.mark.parametrize("target", REFUSED)
async def test_a_foreign_redirect_is_refused_at_begin(browser: Browser, target: str):
    refused = await browser.begin(redirect_to=target)
    assert refused.codes == ["BAD_USER_INPUT"], refused.body
    assert "redirectTo" in refused.errors[0]["extensions"]["fields"]
    assert await ExternalLoginFlow.all().count() == 0


@pytest.mark.parametrize(("target", "lands"), ALLOWED)
async def test_the_servers_own_and_allowed_origins_are_followed(browser: Browser, target: str, lands: str):
    response = await browser.sign_in(redirect_to=target)
    assert response.status_code == 303 and response.headers["location"] == lands


async def test_link_flows_are_held_to_the_same_rule(browser: Browser):
    refused = await browser.link(redirect_to="https://evil.example/")
    assert refused.codes in (["BAD_USER_INPUT"], ["UNAUTHENTICATED"])
    await browser.sign_in()
    refused = await browser.link(redirect_to="https://evil.example/")
    assert refused.codes == ["BAD_USER_INPUT"]


async def test_a_target_no_longer_allowed_at_the_callback_gets_the_page(browser: Browser):
    begun = await browser.begin(redirect_to=f"{APP}/done")
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"])
    # A flow written while another origin was allowed (ALLOWED_ORIGINS changed since).
    await ExternalLoginFlow.all().update(redirect_to="https://once-allowed.example/done")
    response = await browser.callback(landed)
    assert response.status_code == 400 and "location" not in response.headers
    assert error_of(response) == ("forbidden_redirect", None)
    assert "session=" not in response.headers.get("set-cookie", "")


async def test_a_failure_goes_back_only_to_the_checked_target(browser: Browser):
    begun = await browser.begin(redirect_to=f"{APP}/back")
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"], "deny")
    response = await browser.callback(landed + "&redirectTo=https://evil.example")
    assert response.headers["location"].startswith(f"{APP}/back?error=")
