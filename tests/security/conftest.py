"""Fixtures for the attack tests: apps built from custom settings (helpers: `tests.helpers`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from app.factory import create_app
from auth.passwords import PasswordHasher
from core.settings import Settings
from tests.helpers import PROXY_PEER, OpenApp


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
