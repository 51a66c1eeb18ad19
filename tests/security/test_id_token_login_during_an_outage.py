"""Attack on availability: `loginWithIdToken` spending the app's ID token in vain.

An ID token is used once. A sign-in that spent it (and made the account) and then could
not finish, because no key could sign the access token (`NoUsableSigningKey`) or the
account could not be made ("try again"), left the app a token its retry could only be
refused with, and a user locked out until the provider issued a new one. The resolver
now takes the signer before anything is written, and a "try again" gives the token back.
"""

from __future__ import annotations

import pytest

import services.external_identities as external_identities
from auth.keyring import add_key
from core.errors import ServiceUnavailable
from core.settings import Secret, Settings
from models import ExternalIdentity, SpentIdToken, User
from tests.helpers import TEST_SECRET, bearer, gql, oidc_fixtures
from tests.helpers.federation import ID_TOKEN_LOGIN, ME, PROVIDER, callback_uri, federated_settings
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient

# The shared fixture against the real provider (tests/helpers/oidc_fixtures.py).
idp = oidc_fixtures.idp

NONCE = "app-nonce-0123456789"


@pytest.fixture(scope="module")
def web_client(idp: OpenIDProvider) -> RegisteredClient:
    return idp.register_client([callback_uri()])


@pytest.fixture
def settings(idp: OpenIDProvider, web_client: RegisteredClient) -> Settings:
    return federated_settings(idp, web_client, login_limit_per_ip="50/minute")


async def _login(http, token: str):
    variables = {"provider": PROVIDER, "idToken": token, "nonce": NONCE}
    return await gql(http, ID_TOKEN_LOGIN, variables, cookies=False)


async def _signs_in(http, result) -> None:
    assert not result.errors, result.body
    access = result.data["loginWithIdToken"]["accessToken"]
    assert (await gql(http, ME, headers=bearer(access), cookies=False)).data["me"] is not None


async def test_a_bearer_sign_in_while_no_key_can_sign_spends_nothing(http, app, idp, web_client):
    token = str((await idp.code_flow_tokens(web_client, nonce=NONCE))["id_token"])
    ring = app.state.backend.keyring
    ours = ring.signer.kid
    await add_key(ring.store, ring.algorithm, Secret("another-secret-key-that-is-long-enough-1111111111"))
    await ring.store.retire(ours)
    await ring.reload()

    failed = await _login(http, token)
    assert failed.codes == ["INTERNAL_SERVER_ERROR"], failed.body
    assert await User.all().count() == 0
    assert await ExternalIdentity.all().count() == 0
    assert await SpentIdToken.all().count() == 0

    await add_key(ring.store, ring.algorithm, Secret(TEST_SECRET))  # rotate-keys, fixed
    await ring.reload()
    await _signs_in(http, await _login(http, token))
    assert await User.all().count() == 1
    replayed = await _login(http, token)  # and it is still used once
    assert replayed.codes == ["UNAUTHENTICATED"], replayed.body


async def test_a_try_again_gives_the_token_back(http, idp, web_client, monkeypatch):
    token = str((await idp.code_flow_tokens(web_client, nonce=NONCE))["id_token"])
    real_account_for = external_identities.account_for

    async def account_for_once_unavailable(*args, **kwargs):
        # What account_for answers after losing every race for a username.
        monkeypatch.setattr(external_identities, "account_for", real_account_for)
        raise ServiceUnavailable("The account could not be created; try again.")

    monkeypatch.setattr(external_identities, "account_for", account_for_once_unavailable)
    failed = await _login(http, token)
    assert failed.codes == ["SERVICE_UNAVAILABLE"], failed.body
    assert await SpentIdToken.all().count() == 0
    await _signs_in(http, await _login(http, token))  # the "try again" it was told
    assert await SpentIdToken.all().count() == 1
