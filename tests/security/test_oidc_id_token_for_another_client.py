"""An ID token issued to another client (another app of the same provider) is no sign-in
here: `aud` must hold this deployment's client (or one of its `mobile_client_ids`), and
with several audiences `azp` must name ours. Real tokens from the real OpenID provider,
and tokens signed with its key for claims it would not issue by itself."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from models import User
from tests.helpers import gql, oidc_fixtures
from tests.helpers.federation import ID_TOKEN_LOGIN, PROVIDER, callback_uri, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
idp = oidc_fixtures.idp


@pytest.fixture(scope="module")
def ours(idp: OpenIDProvider) -> RegisteredClient:
    return idp.register_client([callback_uri()])


@pytest.fixture(scope="module")
def theirs(idp: OpenIDProvider) -> RegisteredClient:
    return idp.register_client(["https://other-app.example/callback"])


@pytest.fixture
def settings(idp: OpenIDProvider, ours: RegisteredClient) -> Settings:
    return federated_settings(idp, ours)


async def sign_in(http: httpx.AsyncClient, token: str, nonce: str | None = None):
    variables = {"provider": PROVIDER, "idToken": token, "nonce": nonce}
    return await gql(http, ID_TOKEN_LOGIN, variables, cookies=False)


async def test_a_real_token_of_another_client_is_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, theirs: RegisteredClient
):
    token = (await idp.code_flow_tokens(theirs, nonce="n-1"))["id_token"]
    refused = await sign_in(http, token, "n-1")
    assert refused.status == 401 and refused.codes == ["UNAUTHENTICATED"]
    assert await User.all().count() == 0


async def test_our_own_real_token_is_accepted(
    http: httpx.AsyncClient, idp: OpenIDProvider, ours: RegisteredClient
):
    token = (await idp.code_flow_tokens(ours, nonce="n-2"))["id_token"]
    assert not (await sign_in(http, token, "n-2")).errors


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": ["THEIRS"]},
        {"aud": ["OURS", "THEIRS"]},  # several audiences and no azp
        {"aud": ["OURS", "THEIRS"], "azp": "THEIRS"},
        {"aud": "OURS", "azp": "THEIRS"},
        {"aud": []},
    ],
)
async def test_audiences_that_are_not_ours_alone_are_refused(
    http: httpx.AsyncClient, idp: OpenIDProvider, ours: RegisteredClient, theirs: RegisteredClient, claims
):
    names = {"OURS": ours.client_id, "THEIRS": theirs.client_id}

    def named(value):
        return [names[v] for v in value] if isinstance(value, list) else names.get(value, value)

    forged = idp.forge(idp.id_token_claims(ours.client_id, **{k: named(v) for k, v in claims.items()}))
    assert (await sign_in(http, forged)).codes == ["UNAUTHENTICATED"]


async def test_several_audiences_with_our_azp_are_accepted(
    http: httpx.AsyncClient, idp: OpenIDProvider, ours: RegisteredClient, theirs: RegisteredClient
):
    forged = idp.forge(
        idp.id_token_claims(ours.client_id, aud=[ours.client_id, theirs.client_id], azp=ours.client_id)
    )
    assert not (await sign_in(http, forged)).errors
