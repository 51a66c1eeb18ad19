"""Shared fixtures.

The suite runs on an in-memory SQLite database by default. With `TEST_DATABASE_URL`
(PostgreSQL) and `TEST_REDIS_URL` set, the same tests run against those real servers:
migrations are applied once, and tables and Redis keys are emptied before each test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.factory import create_app
from core.settings import Secret, Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
STRONG_PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "violet tractor umbrella sonnet"
GRAPHQL = "/graphql"


def uses_postgres() -> bool:
    """True when the suite runs against PostgreSQL."""
    return TEST_DATABASE_URL is not None


async def reset_postgres(url: str) -> None:
    """Apply migrations (once per process) and empty every table."""
    from tortoise import Tortoise

    from core.db import apply_migrations, tortoise_config

    if not getattr(reset_postgres, "migrated", False):
        await apply_migrations(url)
        await Tortoise.close_connections()
        reset_postgres.migrated = True  # type: ignore[attr-defined]
    await Tortoise.init(config=tortoise_config(url))
    try:
        await Tortoise.get_connection("default").execute_script(
            "TRUNCATE refresh_tokens, credentials, users CASCADE"
        )
    finally:
        await Tortoise.close_connections()


async def reset_redis(url: str) -> None:
    """Empty the test Redis database."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: fast bcrypt, the test database and Redis when configured."""
    values: dict[str, Any] = {
        "secret_key": Secret(TEST_SECRET),
        "database_url": TEST_DATABASE_URL or "sqlite://:memory:",
        "redis_url": TEST_REDIS_URL,
        "bcrypt_rounds": 4,
        "app_env": "test",
        # The host httpx's ASGI transport names (base_url http://testserver).
        "allowed_hosts": ("testserver",),
        # Tests register many accounts from one client; the tests of this limit set their own.
        "register_limit_per_ip": "1000/minute",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings() -> Settings:
    """Test settings; override in a test module by redefining this fixture."""
    return make_settings()


@pytest.fixture
async def clean_backends() -> None:
    """Empty PostgreSQL and Redis before a test that uses them."""
    if TEST_DATABASE_URL:
        await reset_postgres(TEST_DATABASE_URL)
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


@dataclass
class GQLResponse:
    """A GraphQL answer over HTTP."""

    status: int
    body: dict[str, Any]
    headers: httpx.Headers
    cookies: httpx.Cookies

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    cookies: bool = True,
) -> GQLResponse:
    """POST a GraphQL operation; `cookies=False` sends it without the client's cookie jar."""
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    if cookies:
        response = await client.post(GRAPHQL, json=payload, headers=headers)
    else:
        saved = httpx.Cookies(client.cookies)
        client.cookies.clear()
        try:
            response = await client.post(GRAPHQL, json=payload, headers=headers)
        finally:
            client.cookies = saved
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text}
    return GQLResponse(response.status_code, body, response.headers, response.cookies)


REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { user { id username email roles } accessToken refreshToken tokenType expiresIn }
}"""
LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { user { id username roles } accessToken refreshToken tokenType expiresIn }
}"""
ME = "query { me { id username email roles } }"


@dataclass
class Persona:
    """A registered user with their password and id."""

    username: str
    email: str
    password: str
    id: str


async def register(
    client: httpx.AsyncClient, username: str, password: str = STRONG_PASSWORD, transport: str = "BEARER"
) -> GQLResponse:
    """Register `username` (email `<username>@example.com`) without touching the cookie jar."""
    return await gql(
        client,
        REGISTER,
        {
            "input": {
                "username": username,
                "email": f"{username}@example.com",
                "password": password,
                "transport": transport,
            }
        },
        cookies=False,
    )


async def bearer_login(
    client: httpx.AsyncClient, login: str, password: str = STRONG_PASSWORD
) -> dict[str, Any]:
    """Log in with the BEARER transport; returns the `login` payload."""
    result = await gql(
        client, LOGIN, {"input": {"login": login, "password": password, "transport": "BEARER"}}, cookies=False
    )
    assert result.status == 200, result.body
    payload: dict[str, Any] = result.data["login"]
    return payload


def bearer(token: str) -> dict[str, str]:
    """An Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


async def make_persona(client: httpx.AsyncClient, username: str, password: str = STRONG_PASSWORD) -> Persona:
    """Register a user and return who they are."""
    result = await register(client, username, password)
    assert result.status == 200, result.body
    return Persona(username, f"{username}@example.com", password, result.data["register"]["user"]["id"])


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


def run(coro: Any) -> Any:
    """Run a coroutine from synchronous test code."""
    return asyncio.run(coro)
