"""A replayed authorization code signs nobody in: the callback that carried it spent its
state (a second delivery is `invalid_state`), and a code moved into another flow (an
attacker's own state and browser) is exchanged with that flow's PKCE verifier, which the
provider refuses (`code_rejected`). Against the real OpenID provider."""

from __future__ import annotations

import httpx

from models import Credential, CredentialKind, User
from tests.helpers import oidc_fixtures
from tests.helpers.federation import Browser, error_of
from tests.helpers.oidc_provider import query_of, with_query

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp, idp_client, settings = (
    oidc_fixtures.browser,
    oidc_fixtures.idp,
    oidc_fixtures.idp_client,
    oidc_fixtures.settings,
)


async def sessions() -> int:
    return await Credential.filter(kind=CredentialKind.SESSION).count()


async def test_the_same_callback_twice_signs_in_once(browser: Browser):
    begun = await browser.begin()
    landed = await browser.at_provider(begun.data["beginExternalLogin"]["url"])
    assert (await browser.callback(landed)).status_code == 200
    assert await sessions() == 1
    again = await browser.callback(landed)
    assert error_of(again) == ("invalid_state", None)
    assert await sessions() == 1


async def test_a_victims_code_in_an_attackers_flow_is_refused_by_the_provider(
    browser: Browser, http: httpx.AsyncClient
):
    # The victim's flow reaches the callback URL (leaked: a log, a Referer, a shared link).
    victim = await browser.begin()
    leaked = await browser.at_provider(victim.data["beginExternalLogin"]["url"])
    # The attacker, in a browser of their own, begins a flow and swaps the code in.
    http.cookies.clear()
    attacker = await browser.begin()
    attacker_state = query_of(attacker.data["beginExternalLogin"]["url"])["state"]
    forged = with_query(leaked, state=attacker_state)
    response = await browser.callback(forged)
    assert error_of(response) == ("code_rejected", None)
    assert "session=" not in response.headers.get("set-cookie", "")
    assert await User.all().count() == 0 and await sessions() == 0
