"""GraphiQL in a real browser (Debian's Chromium driven by Playwright) against a real
server: the page runs under its Content-Security-Policy with no error, and the docs
button switches the docs between the full schema and the caller's own (contract
section 7), for an anonymous caller and for a bearer token given in the Headers.

Needs `/usr/bin/chromium` (Debian's `chromium` package) and the `playwright` Python
package (the `test` extra). Without them the module is skipped, naming what is missing,
except under CI (`CI` set), where it fails: CI must never lose these tests quietly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.helpers import (
    STRONG_PASSWORD,
    register,
)
from tests.helpers.chromium import require_browser, watched_page
from tests.helpers.processes import GatehouseServer, fresh_server_environment

pytestmark = pytest.mark.server

TIMEOUT_MS = 30_000
TOGGLE = "button.gatehouse-viewer-schema"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatehouseServer]:
    require_browser()

    env = fresh_server_environment(tmp_path_factory.mktemp("graphiql"))
    with GatehouseServer(env) as running:
        yield running


@pytest.fixture
async def page(server: GatehouseServer) -> AsyncIterator[Any]:
    async with watched_page(TIMEOUT_MS) as opened:
        yield opened


async def root_fields_in_docs(page: Any, root: str) -> set[str]:
    """The fields the docs explorer lists for `root` (opening the docs if needed)."""
    docs = page.locator(".graphiql-doc-explorer")
    if not await docs.is_visible():
        await page.get_by_role("button", name="Show Documentation Explorer").click()
    back = page.locator(".graphiql-doc-explorer-back")
    while await back.count():
        await back.first.click()
    await page.locator("div:has(> span.graphiql-doc-explorer-root-type) > a", has_text=root).click()
    await page.locator(".graphiql-doc-explorer-title", has_text=root).wait_for()
    await page.locator(".graphiql-doc-explorer-field-name").first.wait_for()
    return set(await page.locator(".graphiql-doc-explorer-field-name").all_inner_texts())


async def switch(page: Any, to: str) -> None:
    await page.locator(TOGGLE).click()
    await page.locator(f'{TOGGLE}[data-schema="{to}"]').wait_for()


async def test_anonymous_docs_switch_to_the_public_fields_and_back(server: GatehouseServer, page: Any):
    await page.goto(f"{server.url}/graphql")
    await page.locator(f'{TOGGLE}[data-schema="full"]').wait_for()
    full = await root_fields_in_docs(page, "Query")

    await switch(page, "mine")
    mine = await root_fields_in_docs(page, "Query")
    await switch(page, "full")
    again = await root_fields_in_docs(page, "Query")

    assert {"me", "viewer", "users", "myCredentials"} <= full
    assert mine == {"me", "viewer"}
    assert again == full
    assert await page.locator(TOGGLE).get_attribute("aria-pressed") == "false"
    assert page.problems == [], page.problems


async def test_a_bearer_token_in_the_headers_sees_its_own_schema(server: GatehouseServer, page: Any):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        registered = await register(client, "judy")
    headers = json.dumps({"Authorization": f"Bearer {registered.data['register']['accessToken']}"})

    await page.goto(f"{server.url}/graphql?headers={quote(headers)}")
    await page.locator(f'{TOGGLE}[data-schema="full"]').wait_for()
    await switch(page, "mine")
    mine = await root_fields_in_docs(page, "Query")
    mutations = await root_fields_in_docs(page, "Mutation")

    assert mine == {"me", "viewer", "user", "myCredentials"}
    assert "logout" in mutations and "grantRole" not in mutations
    assert page.problems == [], page.problems


async def test_a_login_run_in_the_page_reloads_your_schema(server: GatehouseServer, page: Any):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        await register(client, "kim")
    credentials = f'{{login: "kim", password: "{STRONG_PASSWORD}"}}'
    login = f"mutation {{ login(input: {credentials}) {{ user {{ username }} }} }}"

    await page.goto(f"{server.url}/graphql?q={quote(login)}")
    await page.locator(f'{TOGGLE}[data-schema="full"]').wait_for()
    await switch(page, "mine")
    before = await root_fields_in_docs(page, "Query")
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    await page.locator(".result-window", has_text='"username": "kim"').wait_for()
    # The cookie the login set is sent with the reload that follows the mutation.
    await page.locator(".graphiql-doc-explorer-back").click()
    await page.locator("div:has(> span.graphiql-doc-explorer-root-type) > a", has_text="Query").click()
    await page.locator(".graphiql-doc-explorer-field-name", has_text="myCredentials").wait_for()
    after = await root_fields_in_docs(page, "Query")

    assert before == {"me", "viewer"}
    assert after == {"me", "viewer", "user", "myCredentials"}
    assert page.problems == [], page.problems
