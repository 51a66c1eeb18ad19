"""The typed context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from auth.backend import AuthBackend
from auth.identity import Identity
from core.client import ClientInfo


@dataclass
class Context:
    """Per-request state: who is calling, from where, and where to put cookies and headers."""

    request: Request
    response: Response
    identity: Identity
    backend: AuthBackend
    client: ClientInfo
    # Set by resolvers that replace the identity mid-request (login, logout).
    cookie_cleared: bool = False
    notes: dict[str, object] = field(default_factory=dict)
