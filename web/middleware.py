"""Pure ASGI middleware in front of the GraphQL view: the access log, the body limit and
the browser (CSRF/Origin) check. Each answers its refusals through the one error exit
(web/errors.py), in the media type the request accepts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import Forbidden, PayloadTooLarge
from core.media import APPLICATION_JSON, negotiate
from core.scope import client_of, connection_of
from core.settings import Settings
from web.errors import error_response, refuse_websocket

access_logger = logging.getLogger("gatehouse.access")


def _media(scope: Scope) -> Any:
    return negotiate(connection_of(scope).headers.get("accept")) or APPLICATION_JSON


def _logged_path(scope: Scope) -> str:
    """The path as the client sent it, still percent-encoded, so a decoded newline cannot
    forge a second log line (never the query string)."""
    raw = scope.get("raw_path")
    if raw:
        return str(raw.decode("latin-1").split("?", 1)[0])
    return str(scope["path"]).encode("unicode_escape").decode("ascii")


async def run_noting_status(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, noted: Callable[[int], None]
) -> None:
    """Run `app`, then hand `noted` the status it answered, even when it fails: 500 if it
    fails before it responds, what the server answers then."""
    status = 500

    async def send_noting_status(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await app(scope, receive, send_noting_status)
    finally:
        noted(status)


class AccessLog:
    """One line per request: method, path, status, milliseconds. Never the query string
    (it may hold variables or a stray token), never a header or a cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        def log(status: int) -> None:
            access_logger.info(
                "%s %s %d %.1fms",
                scope["method"],
                _logged_path(scope),
                status,
                (time.perf_counter() - started) * 1000,
            )

        await run_noting_status(self.app, scope, receive, send, log)


class BodyLimit:
    """Bodies over `MAX_BODY_BYTES` get 413: at once from `Content-Length`, else as soon as
    the bytes read pass the limit (a chunked body declares no length)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body exceeds {self.max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = connection_of(scope).headers
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await error_response(self._refusal(), _media(scope))(scope, receive, send)
                return
            if "transfer-encoding" not in headers:
                # The server reads exactly the declared length (HTTP/1.1 framing): nothing
                # more can arrive, so there is nothing to count. With a Transfer-Encoding
                # too, some servers (h11) read the chunks instead: those are counted.
                await self.app(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._refusal()  # the view answers it through the error exit
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, noting_send)
        except PayloadTooLarge:
            if started:
                raise
            await error_response(self._refusal(), _media(scope))(scope, receive, send)


class OriginCheck:
    """Refuses (403 `FORBIDDEN`) a browser request another site may have forged.

    Requests authenticated by a `Bearer` or `Token` header cannot be forged by another
    site (a browser never adds that header by itself), so only cookie, Basic and
    credential-less requests (login, register) are checked, whatever the method: a
    cross-site `Sec-Fetch-Site` or an `Origin` that is neither the server's own nor in
    `ALLOWED_ORIGINS` is refused.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.allowed = frozenset(o.lower() for o in settings.allowed_origins)

    def problem(self, scope: Scope) -> str | None:
        """Why the request must be refused, or `None`."""
        headers = connection_of(scope).headers
        authorization = headers.get("authorization", "").lower()
        if authorization.startswith(("bearer ", "token ")):
            return None
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            return "Cross-site requests are not allowed."
        origin = headers.get("origin")
        if origin is None:
            return None
        origin = origin.rstrip("/").lower()
        if origin in self.allowed:
            return None
        # The server's own origin: the scheme the client used (behind a trusted proxy,
        # its `X-Forwarded-Proto`) and the `Host`, already checked by `HostCheck`.
        scheme = "https" if client_of(scope, self.settings).is_https else "http"
        if origin == f"{scheme}://{headers.get('host', '')}".lower():
            return None
        return "This origin is not allowed."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and (problem := self.problem(scope)):
            # A WebSocket handshake is a browser request like any other (cross-site
            # WebSocket hijacking): refused before it is accepted.
            if scope["type"] == "websocket":
                await refuse_websocket(Forbidden(problem))(scope, receive, send)
                return
            await error_response(Forbidden(problem), _media(scope))(scope, receive, send)
            return
        await self.app(scope, receive, send)
