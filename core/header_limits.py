"""Bounds on request headers: how many, how large each, how large all together.

A 40 MB `Cookie` header was accepted (and cost the server 170 MB). Two layers bound them:

- the server (`core/http_protocol.py`): uvicorn stops reading a request head (request
  line and headers) past `MAX_HEAD_BYTES` and answers 431, before the headers are parsed
  and copied into the ASGI scope, and a request whose head, chunk-size lines and trailers
  pass `MAX_NON_BODY_BYTES` likewise (trailers are dropped, never added to the headers);
- the app (`HeaderLimits`, outermost): a request whose headers exceed `MAX_HEADER_COUNT`,
  `MAX_HEADER_FIELD_BYTES` for one header (name and value) or `MAX_HEADER_BYTES` in all
  answers 431 Request Header Fields Too Large, GraphQL-shaped with `BAD_USER_INPUT`, like
  the view's other refusals before execution. It holds under any ASGI server.

Browsers send well under 8 KiB; the largest legitimate header here is an `Authorization`
of up to 8 KiB (auth/transport/header.py refuses longer ones itself, with 401).
"""

from __future__ import annotations

import json
from itertools import chain

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import BadRequest, error_body

MAX_HEADER_COUNT = 100
MAX_HEADER_FIELD_BYTES = 16 * 1024  # one header, name and value
MAX_HEADER_BYTES = 32 * 1024  # every header together
# The server's cut-off for the whole head: above the app's bounds, so that an ordinary
# oversized request gets the app's JSON answer and only a gross one is cut off early.
MAX_HEAD_BYTES = 64 * 1024
# Everything in one message that is not body: its head, chunk-size lines and trailers.
MAX_NON_BODY_BYTES = 2 * MAX_HEAD_BYTES

STATUS = 431


def header_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why a request's headers are refused, or None.

    The common case costs one length and one sum computed in C: no single header can
    exceed its bound while all of them together stay under it.
    """
    if len(headers) > MAX_HEADER_COUNT:
        return f"A request may carry at most {MAX_HEADER_COUNT} headers."
    total = sum(map(len, chain.from_iterable(headers)))
    if total <= MAX_HEADER_FIELD_BYTES:
        return None
    if any(len(name) + len(value) > MAX_HEADER_FIELD_BYTES for name, value in headers):
        return f"A request header may be at most {MAX_HEADER_FIELD_BYTES} bytes."
    if total > MAX_HEADER_BYTES:
        return f"A request's headers may be at most {MAX_HEADER_BYTES} bytes in all."
    return None


def refusal_body(problem: str) -> bytes:
    """The JSON body of a 431 answer: `BAD_REQUEST`, no `data` entry. Always
    `application/json`: headers over their bounds are not read, `Accept` included."""
    return json.dumps(error_body(BadRequest(problem, status=STATUS))).encode()


class HeaderLimits:
    """ASGI middleware answering 431 for headers over the bounds above, before any route,
    middleware or lifespan-independent work sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            problem = header_problem(scope["headers"])
            if problem is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1009})
                    return
                response = Response(
                    refusal_body(problem),
                    status_code=STATUS,
                    headers={"Cache-Control": "no-store", "Connection": "close"},
                    media_type="application/json",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
