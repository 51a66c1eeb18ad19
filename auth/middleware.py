"""Authentication where Starlette puts it: an ASGI middleware that turns the request
into an `Identity` in the scope, before any endpoint runs.

The shape is Starlette's `AuthenticationMiddleware`: authenticate once, place the result
in `scope` for HTTP and WebSocket connections alike (anonymous is an object, never
`None`), and answer a rejection through an injected `on_error` (the HTTP face's one
error exit), so nothing behind it executes. A stale session cookie is not a rejection:
the request goes on as anonymous and the response clears the cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.authenticate import Authenticator, Resolution
from auth.identity import Identity
from auth.transport.cookie import clearing_cookie_header
from core.scope import client_of, connection_of
from core.settings import Settings

IDENTITY_KEY = "identity"
CLEAR_COOKIE_KEY = "gatehouse.clear_cookie"

OnError = Callable[[BaseException, Scope], Awaitable[ASGIApp]]


def identity_of(scope: Scope) -> Identity:
    """The identity the middleware placed in `scope`."""
    identity: Identity = scope[IDENTITY_KEY]
    return identity


class AuthenticationMiddleware:
    """Resolves every HTTP and WebSocket connection to an identity in `scope["identity"]`."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, settings: Settings, on_error: OnError
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.settings = settings
        self.on_error = on_error
        self._clearing = clearing_cookie_header(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            # No `asyncio.timeout` here (6 µs a request): the drivers bound every wait,
            # asyncpg and Redis with DB_TIMEOUT (core/db.py, core/redis_client.py).
            resolution: Resolution = await self.authenticator.authenticate(
                connection_of(scope), client_of(scope, self.settings)
            )
        except Exception as exc:  # noqa: BLE001 - the error exit answers every kind
            response = await self.on_error(exc, scope)
            await response(scope, receive, send)
            return
        scope[IDENTITY_KEY] = resolution.identity
        if not resolution.clear_cookie:
            await self.app(scope, receive, send)
            return
        scope[CLEAR_COOKIE_KEY] = True
        await self.app(scope, receive, self._clearing_send(send))

    def _clearing_send(self, send: Send) -> Send:
        """`send`, adding the cookie-clearing header unless the app set the cookie itself."""
        cookie_name = self.settings.session_cookie_name.encode("latin-1") + b"="
        clearing = self._clearing

        async def send_clearing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                sets_own = any(k == b"set-cookie" and v.startswith(cookie_name) for k, v in headers)
                if not sets_own:
                    headers.append(clearing)
                    message = {**message, "headers": headers}
            await send(message)

        return send_clearing
