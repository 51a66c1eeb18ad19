"""Mass account creation from one client: `register` is limited per IP."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from tests.helpers import REGISTER, STRONG_PASSWORD, from_ip, gql, make_settings


@pytest.fixture
def settings() -> Settings:
    return make_settings(register_limit_per_ip="3/minute")


def register_variables(username: str) -> dict[str, object]:
    return {
        "input": {
            "username": username,
            "email": f"{username}@example.com",
            "password": STRONG_PASSWORD,
            "transport": "BEARER",
        }
    }


async def test_register_is_limited_per_client_ip(http: httpx.AsyncClient):
    spammer = from_ip("203.0.113.9")
    for n in range(3):
        result = await gql(http, REGISTER, register_variables(f"bot{n}"), headers=spammer, cookies=False)
        assert result.status == 200 and not result.errors, result.body

    over = await gql(http, REGISTER, register_variables("bot3"), headers=spammer, cookies=False)

    assert over.status == 429, over.body
    assert over.codes == ["RATE_LIMITED"]
    assert over.headers["retry-after"] == str(over.errors[0]["extensions"]["retryAfter"])
    # Nothing was created for the refused attempt, and other clients still register.
    other = await gql(
        http, REGISTER, register_variables("bot3"), headers=from_ip("198.51.100.3"), cookies=False
    )
    assert other.status == 200 and not other.errors, other.body


async def test_failed_registrations_count_too(http: httpx.AsyncClient):
    spammer = from_ip("203.0.113.10")
    for _ in range(3):
        bad = await gql(http, REGISTER, register_variables("x"), headers=spammer, cookies=False)
        assert bad.codes == ["BAD_USER_INPUT"], bad.body

    over = await gql(http, REGISTER, register_variables("valid_name"), headers=spammer, cookies=False)
    assert over.status == 429 and over.codes == ["RATE_LIMITED"], over.body
