"""The whole browser sign-in with another provider, in headless Chromium (Debian's, driven by
Playwright): a plain page of an app (another origin on ALLOWED_ORIGINS, the same site)
calls `beginExternalLogin`, the browser goes to the real OpenID provider (npm
oidc-provider) and back to Gatehouse's callback on a real uvicorn server, which sets the
session cookie and sends it to the app's page, where `me` is the new user. A refusal at
the provider comes back to the page as `?error=provider_error`.

Needs `/usr/bin/chromium`, the `playwright` package and npm oidc-provider
(`bash .ci/setup-clients`); outside CI the module is skipped naming what is missing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.chromium import headless_chromium, require_browser
from tests.helpers.oidc_provider import OpenIDProvider, require_provider
from tests.helpers.processes import GatehouseServer, free_port, fresh_server_environment

pytestmark = pytest.mark.server

TIMEOUT_MS = 30_000
# The app's page: plain HTML and a few lines of script, as an app would write them.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The app</title></head>
<body>
  <button id="sign-in">Sign in with the provider</button>
  <pre id="me"></pre><pre id="error"></pre>
  <script>
    const GATEHOUSE = "__GATEHOUSE__";
    async function gql(query, variables) {
      const answer = await fetch(GATEHOUSE + "/graphql", {
        method: "POST",
        credentials: "include",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({query, variables}),
      });
      return answer.json();
    }
    const params = new URLSearchParams(location.search);
    document.getElementById("sign-in").onclick = async () => {
      const begun = await gql(
        "mutation($p: String!, $r: String) { beginExternalLogin(provider: $p, redirectTo: $r) { url } }",
        {p: "harness", r: location.origin + "/done.html"},
      );
      let url = begun.data.beginExternalLogin.url;
      if (params.get("hint")) url += "&login_hint=" + encodeURIComponent(params.get("hint"));
      location.assign(url);
    };
    if (location.pathname === "/done.html") {
      if (params.get("error")) {
        document.getElementById("error").textContent = params.get("error");
      } else {
        gql("{ me { username email emailVerified } }").then((answer) => {
          document.getElementById("me").textContent = JSON.stringify(answer.data.me);
        });
      }
    }
  </script>
</body></html>
"""


class AppPages:
    """The app's origin: a static server on `localhost` (the same site as Gatehouse)."""

    def __init__(self, gatehouse: str) -> None:
        body = PAGE.replace("__GATEHOUSE__", gatehouse).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AppPages:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatehouseServer, AppPages]]:
    require_browser()
    require_provider()
    port = free_port()
    gatehouse = f"http://localhost:{port}"
    with OpenIDProvider() as idp, AppPages(gatehouse) as app:
        client = idp.register_client([f"{gatehouse}/auth/callback/harness"])
        env = {
            **fresh_server_environment(Path(tmp_path_factory.mktemp("federation-browser"))),
            "OIDC_PROVIDERS": json.dumps([idp.provider_entry("harness", client)]),
            "ALLOWED_ORIGINS": app.origin,
        }
        with GatehouseServer(env, port=port) as server:
            yield server, app


async def test_a_browser_signs_in_with_the_provider_from_a_plain_page(deployment):
    server, app = deployment
    async with headless_chromium() as chromium:
        page = await chromium.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(f"{app.origin}/")
        await page.click("#sign-in")
        await page.wait_for_url(f"{app.origin}/done.html")
        await page.wait_for_function("document.getElementById('me').textContent !== ''")
        me = json.loads(await page.text_content("#me") or "null")
        assert me == {"username": "alice_ext", "email": "alice.ext@example.com", "emailVerified": True}
        assert problems == []
        # The session cookie is Gatehouse's, HttpOnly: the page never sees it.
        cookies = await page.context.cookies(f"http://localhost:{server.port}")
        session = next(c for c in cookies if c["name"] == "session")
        assert session["httpOnly"] and session["sameSite"] == "Lax"
        assert "session=" not in await page.evaluate("document.cookie")


async def test_a_refusal_at_the_provider_comes_back_to_the_page_as_a_code(deployment):
    _, app = deployment
    async with headless_chromium() as chromium:
        page = await chromium.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{app.origin}/?hint=deny")
        await page.click("#sign-in")
        await page.wait_for_url(f"{app.origin}/done.html?error=provider_error")
        assert await page.text_content("#error") == "provider_error"
        assert await page.text_content("#me") == ""
