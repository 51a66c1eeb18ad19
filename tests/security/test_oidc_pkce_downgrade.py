"""PKCE downgrade: every flow sends the provider an S256 challenge of a verifier kept
server-side and sent only with the code; a provider whose metadata does not offer S256
(`plain` only, or no `code_challenge_methods_supported` at all) is refused when a flow
begins, before anything is stored. Against the real OpenID provider (PKCE required)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

import pytest

from core.settings import Settings
from models import ExternalLoginFlow
from tests.helpers import oidc_fixtures
from tests.helpers.federation import Browser, error_of, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient, query_of

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp, idp_client = oidc_fixtures.browser, oidc_fixtures.idp, oidc_fixtures.idp_client


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient) -> Settings:
    idp.override_discovery()
    return federated_settings(idp, idp_client)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


async def test_the_provider_is_sent_an_s256_challenge_of_the_kept_verifier(browser: Browser):
    url = (await browser.begin()).data["beginExternalLogin"]["url"]
    query = query_of(url)
    row = await ExternalLoginFlow.get()
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == s256(row.code_verifier)
    assert 43 <= len(row.code_verifier) <= 128 and row.code_verifier not in url


@pytest.mark.parametrize("downgrade", ["plain", "none"])
async def test_a_flow_stripped_of_its_challenge_gets_no_code(browser: Browser, downgrade: str):
    url = (await browser.begin()).data["beginExternalLogin"]["url"]
    parts = url.split("?", 1)
    query = query_of(url)
    if downgrade == "plain":
        query.update(code_challenge_method="plain", code_challenge="a" * 43)
    else:
        query.pop("code_challenge"), query.pop("code_challenge_method")
    landed = await browser.at_provider(f"{parts[0]}?{urlencode(query)}")
    assert "code" not in query_of(landed) and query_of(landed)["error"] == "invalid_request"
    response = await browser.callback(landed)
    assert error_of(response) == ("provider_error", None)
    assert "session=" not in response.headers.get("set-cookie", "")


async def test_a_code_is_exchanged_only_with_its_own_verifier(browser: Browser):
    url = (await browser.begin()).data["beginExternalLogin"]["url"]
    landed = await browser.at_provider(url)
    await ExternalLoginFlow.all().update(code_verifier="v" * 64)  # not the one the challenge was made of
    response = await browser.callback(landed)
    assert error_of(response) == ("code_rejected", None)


@pytest.mark.parametrize("methods", [["plain"], [], None])
async def test_a_provider_without_s256_is_refused_at_begin(browser: Browser, idp: OpenIDProvider, methods):
    idp.override_discovery(code_challenge_methods_supported=methods)
    refused = await browser.begin()
    assert refused.codes == ["BAD_USER_INPUT"]
    assert "PKCE with S256" in refused.errors[0]["extensions"]["fields"]["provider"]
    assert await ExternalLoginFlow.all().count() == 0
