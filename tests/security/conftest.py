"""Helpers for the attack tests: custom apps, counting hashers and header builders."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from auth.passwords import BcryptHasher, PasswordHasher
from app.factory import create_app
from core.settings import Settings

# The client address httpx's ASGI transport reports; a trusted proxy by default.
PROXY_PEER = ("127.0.0.1", 50000)

OpenApp = Callable[..., Awaitable[httpx.AsyncClient]]


class CountingHasher:
    """A real bcrypt hasher that counts how often each operation runs."""

    def __init__(self, rounds: int = 4) -> None:
        self.inner = BcryptHasher(rounds)
        self.rounds = rounds
        self.calls: dict[str, int] = {"hash": 0, "verify": 0, "verify_dummy": 0}

    @property
    def checks(self) -> int:
        """Password checks of any kind (real or dummy)."""
        return self.calls["verify"] + self.calls["verify_dummy"]

    async def hash(self, password: str) -> str:
        self.calls["hash"] += 1
        return await self.inner.hash(password)

    async def verify(self, password: str, password_hash: str) -> bool:
        self.calls["verify"] += 1
        return await self.inner.verify(password, password_hash)

    async def verify_dummy(self, password: str) -> None:
        self.calls["verify_dummy"] += 1
        await self.inner.verify_dummy(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.inner.needs_rehash(password_hash)


@pytest.fixture
async def open_app(clean_backends: None) -> AsyncIterator[OpenApp]:
    """A factory: `await open_app(settings, hasher=..., base_url=..., client=...)` gives a client
    bound to a fresh app whose lifespan is entered; everything closes after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def open_(
            settings: Settings,
            hasher: PasswordHasher | None = None,
            base_url: str = "http://testserver",
            client: tuple[str, int] = PROXY_PEER,
        ) -> httpx.AsyncClient:
            application = create_app(settings, hasher=hasher)
            await stack.enter_async_context(application.router.lifespan_context(application))
            transport = httpx.ASGITransport(app=application, client=client)
            return await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=base_url))

        yield open_


def basic(login: str, password: str) -> dict[str, str]:
    """An Authorization header for HTTP Basic, UTF-8 encoded."""
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def from_ip(ip: str) -> dict[str, str]:
    """Headers a trusted proxy adds for a client at `ip`."""
    return {"X-Forwarded-For": ip}


def login_variables(login: str, password: str, transport: str = "BEARER") -> dict[str, object]:
    """Variables for the conftest's LOGIN document."""
    return {"input": {"login": login, "password": password, "transport": transport}}
