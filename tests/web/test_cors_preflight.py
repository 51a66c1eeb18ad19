"""Contract section 6, CORS preflight: a preflight from a disallowed origin is answered
without CORS headers (so the browser refuses the request) and never with a 5xx; an allowed
origin's preflight gets what Apollo Client and fetch need. (Origin reflection itself:
tests/security/test_cors_origin_reflection.py.)
"""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from tests.helpers import GRAPHQL, app_client, make_settings
from tests.web.exchange import shown

ALLOWED = "https://app.example.com"
DISALLOWED = [
    "https://evil.example",
    "null",
    "https://app.example.com.evil.example",
    "http://app.example.com",
]


@pytest.fixture
def settings() -> Settings:
    return make_settings(allowed_origins=(ALLOWED,))


def preflight(
    origin: str, method: str = "POST", headers: str = "content-type, authorization"
) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def assert_refused_quietly(response: httpx.Response) -> None:
    """No CORS header at all, a 4xx or 2xx (never 5xx), and a body that is empty or coded JSON."""
    assert cors_headers(response) == {}, shown(response)
    assert response.status_code < 500, shown(response)
    if response.content:
        body = response.json()
        assert all((e.get("extensions") or {}).get("code") for e in body["errors"]), shown(response)


@pytest.mark.parametrize("origin", DISALLOWED)
async def test_a_preflight_from_a_disallowed_origin_gets_no_cors_headers(
    http: httpx.AsyncClient, origin: str
):
    assert_refused_quietly(await http.options(GRAPHQL, headers=preflight(origin)))


@pytest.mark.parametrize(
    ("method", "headers"),
    [("PUT", "content-type"), ("POST", "x-evil-header"), ("DELETE", "")],
    ids=["method", "header", "method-no-headers"],
)
async def test_a_preflight_asking_for_more_than_allowed_gets_no_cors_headers(
    http: httpx.AsyncClient, method: str, headers: str
):
    """The browser refuses unless the method and every header are granted: none may be."""
    response = await http.options(GRAPHQL, headers=preflight(ALLOWED, method, headers))

    assert response.status_code < 500, shown(response)
    methods = {m.strip().upper() for m in response.headers.get("access-control-allow-methods", "").split(",")}
    granted = {h.strip().lower() for h in response.headers.get("access-control-allow-headers", "").split(",")}
    if method not in ("GET", "POST"):
        assert method not in methods, shown(response)
    assert "x-evil-header" not in granted, shown(response)


@pytest.mark.parametrize("origin", [ALLOWED, *DISALLOWED])
async def test_without_allowed_origins_every_preflight_gets_no_cors_headers(clean_backends, origin: str):
    async with app_client(make_settings(allowed_origins=())) as client:
        response = await client.options(GRAPHQL, headers=preflight(origin))
    assert_refused_quietly(response)


@pytest.mark.parametrize(
    ("method", "headers"),
    [("POST", "content-type, authorization"), ("GET", "authorization"), ("POST", "content-type")],
    ids=["post", "get", "apollo"],
)
async def test_a_preflight_from_an_allowed_origin_gets_what_clients_need(
    http: httpx.AsyncClient, method: str, headers: str
):
    response = await http.options(GRAPHQL, headers=preflight(ALLOWED, method, headers))

    assert response.status_code in (200, 204), shown(response)
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert method in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    for header in headers.split(","):
        assert header.strip() in allowed_headers, shown(response)
    assert "Origin" in response.headers.get("vary", ""), shown(response)


async def test_a_plain_options_request_is_never_a_5xx(http: httpx.AsyncClient):
    """OPTIONS without the preflight headers (a probe, not a browser)."""
    response = await http.options(GRAPHQL)
    assert response.status_code < 500, shown(response)
    assert "access-control-allow-origin" not in response.headers
