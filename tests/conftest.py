"""Shared fixtures (the code tests share lives in `tests/helpers/`).

The suite runs on an in-memory SQLite database by default. With `TEST_DATABASE_URL`
(PostgreSQL) and `TEST_REDIS_URL` set, the same tests run against those real servers:
migrations are applied once, and tables and Redis keys are emptied before each test.
`TEST_GRAPHQL_EXECUTOR` picks the GraphQL engine (see `tests.helpers.config`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from app.factory import create_app
from core.db import forget_compiled_queries
from core.settings import Settings
from tests.helpers import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    Persona,
    make_persona,
    make_settings,
    reset_postgres,
    reset_redis,
)


@pytest.fixture(autouse=True)
def fresh_tortoise_sql() -> None:
    """Each test starts without SQL Tortoise compiled for an earlier test's database: it
    keys that SQL by connection name, not dialect (core/db.py `forget_compiled_queries`),
    and the suite mixes SQLite apps into a PostgreSQL run."""
    forget_compiled_queries()


@pytest.fixture
def settings() -> Settings:
    """Test settings; override in a test module by redefining this fixture."""
    return make_settings()


@pytest.fixture
async def clean_backends(settings: Settings) -> None:
    """Empty PostgreSQL and Redis before a test that uses them; on PostgreSQL the schema
    modules the `settings` serve are migrated too, so their tables exist and start empty."""
    if TEST_DATABASE_URL:
        await reset_postgres(TEST_DATABASE_URL, settings.schema_modules)
    if TEST_REDIS_URL:
        await reset_redis(TEST_REDIS_URL)


@pytest.fixture
async def app(settings: Settings, clean_backends: None) -> AsyncIterator[Starlette]:
    """The real ASGI app with its lifespan entered (database up, migrations applied)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the app (cookies kept, like a browser)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def alice(http: httpx.AsyncClient) -> Persona:
    """An ordinary user."""
    return await make_persona(http, "alice")


@pytest.fixture
async def bob(http: httpx.AsyncClient) -> Persona:
    """Another ordinary user."""
    return await make_persona(http, "bob")


@pytest.fixture
async def admin(http: httpx.AsyncClient) -> Persona:
    """A user holding the admin role."""
    from models import User

    persona = await make_persona(http, "root_admin")
    await User.filter(id=persona.id).update(roles=["admin"])
    return persona


@pytest.fixture
async def inactive_user(http: httpx.AsyncClient) -> Persona:
    """A registered user whose account is disabled."""
    from models import User

    persona = await make_persona(http, "dormant")
    await User.filter(id=persona.id).update(is_active=False)
    return persona
