"""The pages a mailed link opens, in a real browser (Debian's Chromium driven by Playwright)
against a real server that sends real mail: request a reset, follow the link read out of
the delivered mail, set a new password on the page, sign in with it; the verification
page; and the page's refusals. Each page runs under its Content-Security-Policy with no
error and takes the token out of the address bar.

Needs `/usr/bin/chromium` (Debian's `chromium` package) and the `playwright` Python
package (the `test` extra): skipped without them, naming what is missing, except under CI,
where it fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.helpers import OTHER_PASSWORD, STRONG_PASSWORD, free_port, register
from tests.helpers.account_mail import REQUEST_RESET, RESET_PATH, VERIFY_PATH, mailed_token_after
from tests.helpers.chromium import require_browser, watched_page
from tests.helpers.processes import GatehouseServer, fresh_server_environment
from tests.helpers.smtp import Mailbox, link_in, text_of

pytestmark = pytest.mark.server

TIMEOUT_MS = 30_000
SIGN_IN = """async ([login, password]) => {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({
      query: "mutation($i: LoginInput!) { login(input: $i) { user { username } } }",
      variables: {i: {login, password, transport: "COOKIE"}},
    }),
  });
  return [response.status, await response.json()];
}"""


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[GatehouseServer]:
    require_browser()
    port = free_port()
    env = {
        **fresh_server_environment(tmp_path_factory.mktemp("account-pages")),
        "MAIL_URL": mailbox.url(),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    with GatehouseServer(env, port=port) as running:
        yield running


@pytest.fixture
async def page(server: GatehouseServer) -> AsyncIterator[Any]:
    async with watched_page(TIMEOUT_MS) as opened:
        yield opened


async def _reset_link(server: GatehouseServer, mailbox: Mailbox, address: str) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post("/graphql", json={"query": REQUEST_RESET, "variables": {"e": address}})
        assert response.json() == {"data": {"requestPasswordReset": True}}
    token = await mailed_token_after(mailbox, address, RESET_PATH, 0)
    [mail] = [m for m in mailbox.to(address) if token in text_of(m)]
    return link_in(mail, RESET_PATH)


async def test_a_mailed_reset_link_sets_a_new_password_in_the_browser(server, mailbox, page):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        assert (await register(client, "rosa")).status == 200
    link = await _reset_link(server, mailbox, "rosa@example.com")
    assert link.startswith(f"{server.url}{RESET_PATH}?token=")

    response = await page.goto(link)
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    # The token is out of the address bar (and so of history and any Referer).
    await page.wait_for_function("() => !window.location.search")
    assert page.url == f"{server.url}{RESET_PATH}"

    # Two different passwords are caught on the page; a weak one by the server, which
    # leaves the link usable.
    await page.fill("#password", OTHER_PASSWORD)
    await page.fill("#repeat", OTHER_PASSWORD + "!")
    await page.click("#submit")
    await page.locator("#status.error", has_text="differ").wait_for()
    await page.fill("#password", "password123")
    await page.fill("#repeat", "password123")
    await page.click("#submit")
    await page.locator("#status.error").wait_for()
    assert "differ" not in await page.locator("#status").inner_text()

    await page.fill("#password", OTHER_PASSWORD)
    await page.fill("#repeat", OTHER_PASSWORD)
    await page.click("#submit")
    await page.locator("#status.done", has_text="password was changed").wait_for()
    assert await page.locator("#form").is_hidden()

    status, body = await page.evaluate(SIGN_IN, ["rosa", OTHER_PASSWORD])
    assert (status, body) == (200, {"data": {"login": {"user": {"username": "rosa"}}}})
    assert page.problems == [], page.problems
    status, body = await page.evaluate(SIGN_IN, ["rosa", STRONG_PASSWORD])  # the browser logs its 401
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # The same link a second time: the page shows the server's refusal.
    await page.goto(link)
    await page.fill("#password", "yet another fine passphrase")
    await page.fill("#repeat", "yet another fine passphrase")
    await page.click("#submit")
    await page.locator("#status.error", has_text="link").wait_for()


async def test_the_verification_page_verifies_on_a_press_only(server, mailbox, page):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        registered = await register(client, "vic")
    token = await mailed_token_after(mailbox, "vic@example.com", VERIFY_PATH, 0)
    link = f"{server.url}{VERIFY_PATH}?token={token}"
    await page.goto(link)
    await page.locator("#submit").wait_for()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        me = "query { me { emailVerified } }"
        headers = {"Authorization": f"Bearer {registered.data['register']['accessToken']}"}
        opened = await client.post("/graphql", json={"query": me}, headers=headers)
        assert opened.json()["data"]["me"]["emailVerified"] is False  # opening spends nothing
        await page.click("#submit")
        await page.locator("#status.done", has_text="verified").wait_for()
        verified = await client.post("/graphql", json={"query": me}, headers=headers)
        assert verified.json()["data"]["me"]["emailVerified"] is True
    assert page.problems == [], page.problems


async def test_a_page_without_a_token_says_so(server, page):
    await page.goto(f"{server.url}{RESET_PATH}")
    await page.locator("#status.error", has_text="link from your mail").wait_for()
    assert await page.locator("#form").is_hidden()
    assert page.problems == [], page.problems
