"""Fixtures of the notes tests: Gatehouse's shared ones (tests/conftest.py) with the
example module served, and a signed-in JWT for each persona."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from tests.examples.notes.documents import SCHEMA_MODULES
from tests.helpers import Persona, bearer_login, jwt_headers, make_settings


@pytest.fixture
def settings() -> Settings:
    """Gatehouse's test settings serving the example (`SCHEMA_MODULES=examples.notes`)."""
    return make_settings(schema_modules=SCHEMA_MODULES)


@pytest.fixture
async def alice_jwt(http: httpx.AsyncClient, alice: Persona) -> dict[str, str]:
    """An Authorization header with a fresh access JWT of alice (every scope)."""
    return jwt_headers(await bearer_login(http, alice.username))


@pytest.fixture
async def bob_jwt(http: httpx.AsyncClient, bob: Persona) -> dict[str, str]:
    """An Authorization header with a fresh access JWT of bob."""
    return jwt_headers(await bearer_login(http, bob.username))


@pytest.fixture
async def admin_jwt(http: httpx.AsyncClient, admin: Persona) -> dict[str, str]:
    """An Authorization header with a fresh access JWT of the admin."""
    return jwt_headers(await bearer_login(http, admin.username))
