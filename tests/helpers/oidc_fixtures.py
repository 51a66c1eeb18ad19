"""Fixtures shared by the tests against the real OpenID provider (npm oidc-provider).

A test module takes the ones it needs by importing them (pytest collects fixtures from a
module's namespace), e.g. `from tests.helpers.oidc_fixtures import browser, idp, idp_client`,
and defines its own where it needs another shape (its own `settings`, a provider with other
options).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from core.settings import Settings
from tests.helpers.federation import Browser, callback_uri, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient


@pytest.fixture(scope="module")
def idp() -> Iterator[OpenIDProvider]:
    """One running provider for the module."""
    with OpenIDProvider() as running:
        yield running


@pytest.fixture(scope="module")
def idp_client(idp: OpenIDProvider) -> RegisteredClient:
    """Gatehouse registered at `idp` with the test callback."""
    return idp.register_client([callback_uri()])


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient) -> Settings:
    """Test settings trusting `idp` as the provider, with `idp_client`'s credentials."""
    return federated_settings(idp, idp_client)


@pytest.fixture
def browser(http: httpx.AsyncClient, idp: OpenIDProvider) -> Browser:
    """A browser talking to the in-process Gatehouse through `http` and to `idp` directly."""
    return Browser(http, idp)
