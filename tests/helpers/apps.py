"""Apps built from custom settings (or a custom hasher), with a client bound to them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from app.factory import create_app
from auth.passwords import PasswordHasher
from core.settings import Settings

# The client address httpx's ASGI transport reports; a trusted proxy by default.
PROXY_PEER = ("127.0.0.1", 50000)

# The type of the `open_app` fixture (tests/security/conftest.py).
OpenApp = Callable[..., Awaitable[httpx.AsyncClient]]


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings,
    client: tuple[str, int] = ("127.0.0.1", 123),
    hasher: PasswordHasher | None = None,
    base_url: str = "http://testserver",
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app built from `settings`, seen as coming from `client`.

    Callers that run on PostgreSQL must also request the `clean_backends` fixture.
    """
    application = create_app(settings, hasher=hasher)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield http
