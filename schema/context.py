"""The typed context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from auth.backend import AuthBackend
from auth.identity import Identity
from core.client import ClientInfo


def new_sub_response() -> Response:
    """An empty response that collects the cookies and headers resolvers set (as
    Strawberry's `get_sub_response` makes it: no status, no content-length)."""
    response = Response()
    response.status_code = None  # type: ignore[assignment]
    del response.headers["content-length"]
    return response


@dataclass
class Context:
    """Per-request state: who is calling, from where, and where to put cookies and headers."""

    request: Request
    identity: Identity
    backend: AuthBackend
    client: ClientInfo
    # Made on first use of `response`: most operations set no cookie or header.
    sub_response: Response | None = None

    @property
    def response(self) -> Response:
        """Where resolvers set cookies and headers for the HTTP response."""
        if self.sub_response is None:
            self.sub_response = new_sub_response()
        return self.sub_response
