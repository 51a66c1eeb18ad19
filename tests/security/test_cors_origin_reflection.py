"""CORS misconfiguration: reflecting any origin (or `null`) with credentials would let
any site read authenticated responses. Only `ALLOWED_ORIGINS` get CORS headers."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings, SettingsError
from tests.helpers import GRAPHQL, ME, gql, make_settings

ALLOWED = "https://app.example.com"


@pytest.fixture
def settings() -> Settings:
    return make_settings(allowed_origins=(ALLOWED,))


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
    }


async def test_preflight_from_an_allowed_origin_succeeds(http: httpx.AsyncClient):
    response = await http.options(GRAPHQL, headers=preflight_headers(ALLOWED))

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "null", "https://app.example.com.evil.example", "http://app.example.com"],
)
async def test_preflight_from_any_other_origin_gets_no_allow_origin(http: httpx.AsyncClient, origin):
    response = await http.options(GRAPHQL, headers=preflight_headers(origin))

    assert response.status_code >= 400
    assert "access-control-allow-origin" not in response.headers


async def test_an_allowed_origin_can_read_responses(http: httpx.AsyncClient):
    result = await gql(http, ME, headers={"Origin": ALLOWED})
    assert result.status == 200
    assert result.headers["access-control-allow-origin"] == ALLOWED
    assert result.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in result.headers["vary"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
async def test_other_origins_are_never_reflected(http: httpx.AsyncClient, origin):
    response = await http.post(GRAPHQL, json={"query": ME}, headers={"Origin": origin})
    assert "access-control-allow-origin" not in response.headers
    assert response.headers.get("access-control-allow-origin") != "*"


async def test_without_allowed_origins_no_origin_gets_cors(open_app):
    client = await open_app(make_settings(allowed_origins=()))
    response = await client.options(GRAPHQL, headers=preflight_headers(ALLOWED))
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("value", ["*", "null", "app.example.com", "https://ok.example,*"])
def test_wildcard_null_or_bare_hosts_are_refused_at_start_up(value):
    with pytest.raises(SettingsError, match="ALLOWED_ORIGINS"):
        Settings.from_env({"SECRET_KEY": "k" * 40, "ALLOWED_ORIGINS": value})
