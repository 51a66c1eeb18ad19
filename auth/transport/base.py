"""The transports: how a credential travels to the server.

`auth.methods.AuthMethod` joins each to the strategy that reads what it carries.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from core.settings import Settings


@dataclass(frozen=True)
class HeaderTransport:
    """A credential in the Authorization header under one scheme word.

    The header is parsed once per request (`auth.transport.header.read_authorization`);
    the authenticator hands its value to the strategy joined to the transport of that
    scheme word. `https_only`: refused over plain HTTP (Basic, in production, carries the
    password itself).
    """

    scheme: str  # "Bearer", "Token" or "Basic"
    https_only: bool = False


FLOW_COOKIE_MAX_AGE = 600  # seconds: as long as a provider flow lives


def flow_cookie_name(settings: Settings) -> str:
    """The cookie that binds a provider sign-in to the browser that began it (contract
    section 10): `__Host-gatehouse_flow` in production, else `gatehouse_flow`."""
    return "__Host-gatehouse_flow" if settings.production else "gatehouse_flow"


def read_flow_binding(conn: HTTPConnection, settings: Settings) -> str | None:
    """The random value of the browser's flow cookie, or `None`."""
    return conn.cookies.get(flow_cookie_name(settings)) or None


class CookieTransport:
    """The session cookie, as read from a request. Setting and clearing it is the HTTP
    face's job (`auth.transport.cookie`), once the operation has said what it needs."""

    def __init__(self, settings: Settings) -> None:
        self.name = settings.session_cookie_name

    def read(self, conn: HTTPConnection) -> str | None:
        """The session id the request carries, or `None`."""
        return conn.cookies.get(self.name) or None
