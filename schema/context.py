"""The typed context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from starlette.requests import HTTPConnection

from auth.backend import AuthBackend
from auth.identity import Identity
from core.client import ClientInfo


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

    def start_session(self, session_id: str) -> None:
        """The operation signed in with a new session; the transport sets its cookie."""
        self.cookie_change = CookieChange.SET
        self.new_session_id = session_id

    def end_session(self) -> None:
        """The operation ended the session; the transport clears its cookie."""
        self.cookie_change = CookieChange.CLEAR
        self.new_session_id = None
