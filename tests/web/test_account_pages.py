"""The static pages of mailed links (web/account_pages.py): served in development and
production alike, with headers that keep the token on the page."""

from __future__ import annotations

import pytest

from tests.helpers import app_client, make_settings

PAGES = ["/verify-email", "/reset-password", "/confirm-email-change"]


@pytest.mark.parametrize("app_env", ["development", "production"])
async def test_the_pages_and_their_assets_are_served_with_their_headers(clean_backends, app_env):
    base_url = "https://testserver" if app_env == "production" else "http://testserver"
    async with app_client(make_settings(app_env=app_env), base_url=base_url) as http:
        for path in PAGES:
            response = await http.get(path, params={"token": "A" * 43})
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["cache-control"] == "no-store"
            policy = response.headers["content-security-policy"]
            assert "default-src 'none'" in policy and "script-src 'self'" in policy
            assert 'src="account/account.js"' in response.text
            assert "A" * 43 not in response.text  # the page never echoes the token
        script = await http.get("/account/account.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert "replaceState" in script.text
        assert (await http.get("/account/account.css")).headers["content-type"].startswith("text/css")
        assert (await http.get("/account/nothing.js")).status_code == 404
        assert (await http.post("/reset-password")).status_code == 405
