"""CORS for `ALLOWED_ORIGINS`, with a preflight from any other origin left to the view."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class PreflightAwareCORS(CORSMiddleware):
    """Starlette's CORS, except that a preflight from an origin it does not allow is not
    answered in plain text with 400: it goes on to the endpoint, where the origin check
    answers 403 in GraphQL JSON, without CORS headers, so the browser refuses the request
    it announced."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if (
                origin is not None
                and "access-control-request-method" in headers
                and not self.is_allowed_origin(origin)
            ):
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        """Starlette's answer for an allowed origin (only those reach it)."""
        return super().preflight_response(request_headers)
