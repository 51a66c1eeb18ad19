"""Hammering `refreshToken` (guessing or replaying refresh tokens) is limited per IP."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from tests.helpers import from_ip, gql, make_settings

REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"


@pytest.fixture
def settings() -> Settings:
    return make_settings(refresh_limit_per_ip="4/minute")


async def test_refresh_is_limited_per_client_ip(http: httpx.AsyncClient, alice):
    attacker = from_ip("203.0.113.20")
    for n in range(4):
        guess = "gtr_" + str(n).rjust(43, "A")
        result = await gql(http, REFRESH, {"t": guess}, headers=attacker, cookies=False)
        assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body

    over = await gql(http, REFRESH, {"t": "gtr_" + "B" * 43}, headers=attacker, cookies=False)

    assert over.status == 429 and over.codes == ["RATE_LIMITED"], over.body
    assert over.headers["retry-after"] == str(over.errors[0]["extensions"]["retryAfter"])


async def test_legitimate_rotation_from_another_ip_is_unaffected(http: httpx.AsyncClient, alice):
    from tests.helpers import bearer_login

    for n in range(5):
        await gql(http, REFRESH, {"t": f"garbage-{n}"}, headers=from_ip("203.0.113.21"), cookies=False)
    tokens = await bearer_login(http, "alice")

    result = await gql(
        http, REFRESH, {"t": tokens["refreshToken"]}, headers=from_ip("198.51.100.4"), cookies=False
    )

    assert result.status == 200 and result.data["refreshToken"]["accessToken"], result.body
