"""Mix-up between providers: a callback for provider A carrying B's state, or B's issuer
in RFC 9207's `iss`, or no `iss` while A says it always sends one, is `issuer_mismatch`
before any code is sent anywhere; each provider has its own callback URL and a flow is
bound to the provider it was begun with. Two real OpenID providers."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from core.settings import Settings
from models import Credential, CredentialKind
from tests.helpers.federation import Browser, callback_uri, error_of, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient, query_of, with_query

A, B = "harness", "other"


@pytest.fixture(scope="module")
def idps() -> Iterator[tuple[OpenIDProvider, OpenIDProvider]]:
    with OpenIDProvider() as first, OpenIDProvider() as second:
        yield first, second


@pytest.fixture(scope="module")
def clients(idps) -> tuple[RegisteredClient, RegisteredClient]:
    a, b = idps
    return a.register_client([callback_uri(provider=A)]), b.register_client([callback_uri(provider=B)])


@pytest.fixture
def settings(idps, clients) -> Settings:
    (a, b), (client_a, client_b) = idps, clients
    a.override_discovery()
    return federated_settings(a, client_a, name=A, extra_providers=(b.provider_entry(B, client_b),))


def without_iss(url: str) -> str:
    base, query = url.split("?", 1)
    return f"{base}?{urlencode([(k, v) for k, v in parse_qsl(query) if k != 'iss'])}"


def browser_at(http: httpx.AsyncClient, idp: OpenIDProvider) -> Browser:
    return Browser(http, idp)


async def sessions() -> int:
    return await Credential.filter(kind=CredentialKind.SESSION).count()


async def test_bs_state_at_as_callback_is_refused_and_b_still_finishes(http: httpx.AsyncClient, idps):
    _, b = idps
    browser = browser_at(http, b)
    begun = await browser.begin(provider=B)
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"])
    mixed = landed.replace(f"/auth/callback/{B}", f"/auth/callback/{A}")
    response = await browser.callback(mixed)
    assert error_of(response) == ("issuer_mismatch", None)
    assert await sessions() == 0
    assert (await browser.callback(landed)).status_code == 200  # B's own callback: signed in
    assert await sessions() == 1


async def test_another_issuer_in_the_callback_is_refused(http: httpx.AsyncClient, idps):
    a, b = idps
    browser = browser_at(http, a)
    begun = await browser.begin(provider=A)
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"])
    response = await browser.callback(with_query(landed, iss=b.issuer))
    assert error_of(response) == ("issuer_mismatch", None)
    assert await sessions() == 0


async def test_no_issuer_from_a_provider_that_sends_one_is_refused(http: httpx.AsyncClient, idps):
    a, _ = idps
    browser = browser_at(http, a)
    begun = await browser.begin(provider=A)
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"])
    without = without_iss(landed)
    assert "iss" in query_of(landed) and "iss" not in query_of(without)
    response = await browser.callback(without)
    assert error_of(response) == ("issuer_mismatch", None)
    assert await sessions() == 0


async def test_a_provider_that_does_not_send_iss_is_held_to_its_state_alone(http: httpx.AsyncClient, idps):
    a, _ = idps
    a.override_discovery(authorization_response_iss_parameter_supported=False)
    browser = browser_at(http, a)
    begun = await browser.begin(provider=A)
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"])
    without = without_iss(landed)
    assert (await browser.callback(without)).status_code == 200
