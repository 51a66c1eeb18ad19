"""One way to authenticate: a transport joined to a strategy (fastapi-users' backend).

The transport says how the credential travels (a scheme word of the Authorization
header, the session cookie); the strategy what it is and how it is verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from auth.strategy.base import Strategy
from auth.transport.base import CookieTransport, HeaderTransport


@dataclass(frozen=True)
class AuthMethod:
    """A transport and the strategy that reads what it carries."""

    transport: HeaderTransport | CookieTransport
    strategy: Strategy

    @property
    def name(self) -> str:
        """The method's name in `AUTH_SCHEMES` ("session", "jwt", "token", "basic")."""
        return self.strategy.scheme.value
