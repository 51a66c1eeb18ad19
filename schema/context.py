"""The typed context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from starlette.requests import HTTPConnection

from auth.backend import AuthBackend
from auth.identity import Identity
from auth.secrets import new_secret
from auth.transport.base import read_flow_binding
from core.client import ClientInfo
from services.external_identities import server_origins


class CookieChange(Enum):
    """What the transport must do with the session cookie once the operation is over."""

    SET = "set"
    CLEAR = "clear"


@dataclass
class Context:
    """Per-request state: who is calling, from where, and what the transport must write.

    Resolvers never touch the response: they say that a session began or ended
    (`start_session`, `end_session`) and the HTTP transport writes the cookie.
    """

    # The request's headers, cookies and URL (its body has been read by then).
    request: HTTPConnection
    identity: Identity
    # The deployment's authentication objects, built once (auth/backend.py). Services never
    # receive it: each resolver hands a service the few collaborators it uses.
    backend: AuthBackend
    client: ClientInfo
    cookie_change: CookieChange | None = None
    # The id of the session `start_session` began: the cookie's value.
    new_session_id: str | None = None
    # The browser binding of a provider flow this operation began: the flow cookie's
    # value, (re)written by the transport (`external_flow_binding`).
    flow_binding: str | None = None

    def start_session(self, session_id: str) -> None:
        """The operation signed in with a new session; the transport sets its cookie."""
        self.cookie_change = CookieChange.SET
        self.new_session_id = session_id

    def end_session(self) -> None:
        """The operation ended the session; the transport clears its cookie."""
        self.cookie_change = CookieChange.CLEAR
        self.new_session_id = None

    def external_flow_binding(self) -> str:
        """The random value that binds a provider flow to this browser: the one its flow
        cookie holds already (flows begun in several tabs all finish), else a new one; the
        transport writes the cookie once the operation is over."""
        if self.flow_binding is None:
            self.flow_binding = read_flow_binding(self.request, self.backend.settings) or new_secret()
        return self.flow_binding

    def own_origins(self) -> tuple[str, ...]:
        """The server's own origins: as this request reached it, and `PUBLIC_URL`'s."""
        settings = self.backend.settings
        return server_origins(self.request.headers.get("host", ""), self.client.is_https, settings.public_url)

    def public_base(self) -> str:
        """The base of URLs handed to other parties (a provider's redirect URI):
        `PUBLIC_URL`, else this request's own origin."""
        return self.backend.settings.public_url or self.own_origins()[0]
