"""A provider callback with a missing, unknown, replayed, expired or foreign `state` signs
nobody in (fastapi-sso's CVE-2025-14546 accepted any): the state is a single-use,
expiring row bound to the browser that began the flow (the digest of its flow cookie's
random value), checked before the code is exchanged. Against the real OpenID provider."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import time_machine

from models import Credential, CredentialKind, ExternalLoginFlow, User
from tests.helpers import oidc_fixtures
from tests.helpers.federation import PROVIDER, Browser, error_of
from tests.helpers.oidc_provider import query_of, with_query

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp, idp_client, settings = (
    oidc_fixtures.browser,
    oidc_fixtures.idp,
    oidc_fixtures.idp_client,
    oidc_fixtures.settings,
)


async def landed_at_callback(browser: Browser) -> str:
    begun = await browser.begin()
    return await browser.at_provider(begun.data["beginExternalLogin"]["url"])


def signed_in(response: httpx.Response) -> bool:
    return any(
        c.startswith("session=") and "Max-Age=0" not in c for c in response.headers.get_list("set-cookie")
    )


async def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert error_of(response) == ("invalid_state", None)
    assert not signed_in(response)
    assert await Credential.filter(kind=CredentialKind.SESSION).count() == 0


async def test_a_callback_without_state_is_refused(browser: Browser):
    landed = await landed_at_callback(browser)
    query = query_of(landed)
    response = await browser.http.get(
        f"/auth/callback/{PROVIDER}", params={"code": query["code"], "iss": query["iss"]}
    )
    await assert_refused(response)
    assert await User.all().count() == 0


async def test_an_unknown_or_empty_state_is_refused(browser: Browser):
    landed = await landed_at_callback(browser)
    for state in ("made-up", "", "x" * 5000):
        await assert_refused(await browser.callback(with_query(landed, state=state)))


async def test_a_replayed_callback_is_refused(browser: Browser):
    landed = await landed_at_callback(browser)
    first = await browser.callback(landed)
    assert first.status_code == 200 and signed_in(first)
    browser.http.cookies.delete("session")
    again = await browser.callback(landed)
    assert again.status_code == 400 and error_of(again) == ("invalid_state", None)
    assert not signed_in(again)
    assert await Credential.filter(kind=CredentialKind.SESSION).count() == 1


async def test_a_state_from_another_browser_is_refused_and_stays_for_its_own(
    browser: Browser, http: httpx.AsyncClient
):
    landed = await landed_at_callback(browser)
    own_cookies = httpx.Cookies(http.cookies)
    # A browser without the flow cookie, then one with a flow cookie of its own.
    await assert_refused(await browser.callback(landed, cookies=False))
    http.cookies.clear()
    await browser.begin()
    assert http.cookies.get("gatehouse_flow") != own_cookies.get("gatehouse_flow")
    await assert_refused(await browser.callback(landed))
    # The browser that began the flow still finishes it.
    http.cookies = own_cookies
    finished = await browser.callback(landed)
    assert finished.status_code == 200 and signed_in(finished)


async def test_a_malformed_flow_cookie_is_refused(browser: Browser, http: httpx.AsyncClient):
    landed = await landed_at_callback(browser)
    http.cookies.set("gatehouse_flow", "not-a-binding")
    await assert_refused(await browser.callback(landed))


async def test_an_expired_state_is_refused(browser: Browser):
    landed = await landed_at_callback(browser)
    with time_machine.travel(datetime.now().astimezone() + timedelta(minutes=11), tick=True):
        await assert_refused(await browser.callback(landed))


async def test_expired_flows_are_cleared_by_the_next_one(browser: Browser):
    await browser.begin()
    with time_machine.travel(datetime.now().astimezone() + timedelta(minutes=11), tick=True):
        await browser.begin()
    assert await ExternalLoginFlow.all().count() == 1
