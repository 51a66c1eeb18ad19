"""Request headers tests send (credentials, forwarded addresses) and the ones they read back."""

from __future__ import annotations

import base64
from typing import Any

import httpx

# The WWW-Authenticate challenges of the contract.
PLAIN_CHALLENGE = 'Bearer realm="gatehouse"'
BEARER_CHALLENGE = 'Bearer realm="gatehouse", error="invalid_token"'
TOKEN_CHALLENGE = 'Token realm="gatehouse"'
BASIC_CHALLENGE = 'Basic realm="gatehouse", charset="UTF-8"'


def bearer(token: str) -> dict[str, str]:
    """An Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def jwt_headers(tokens: dict[str, Any]) -> dict[str, str]:
    """The Authorization header for the access token of a BEARER payload."""
    return bearer(tokens["accessToken"])


def basic(login: str, password: str) -> dict[str, str]:
    """An Authorization header for HTTP Basic, UTF-8 encoded."""
    raw = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def token(value: str) -> dict[str, str]:
    """An Authorization header for an API token."""
    return {"Authorization": f"Token {value}"}


def cookie_header(value: str, name: str = "session") -> dict[str, str]:
    """A `Cookie` header carrying a session id (send with `cookies=False`)."""
    return {"Cookie": f"{name}={value}"}


def from_ip(ip: str) -> dict[str, str]:
    """Headers a trusted proxy adds for a client at `ip`."""
    return {"X-Forwarded-For": ip}


def set_cookie_headers(response: Any) -> list[str]:
    """Every `Set-Cookie` header of a `GQLResponse` or an `httpx.Response`."""
    headers: httpx.Headers = response.headers
    return headers.get_list("set-cookie")


def session_cookie_value(response: Any, name: str = "session") -> str | None:
    """The value the response sets for the session cookie (empty string when cleared)."""
    for header in set_cookie_headers(response):
        first = header.split(";", 1)[0]
        key, _, value = first.partition("=")
        if key.strip() == name:
            return value.strip().strip('"')
    return None


def cookie_attributes(response: Any, name: str = "session") -> dict[str, str]:
    """The attributes of the session cookie's `Set-Cookie`, keys lower-cased."""
    for header in set_cookie_headers(response):
        parts = [p.strip() for p in header.split(";")]
        key, _, _ = parts[0].partition("=")
        if key.strip() == name:
            attributes: dict[str, str] = {}
            for part in parts[1:]:
                attr, _, value = part.partition("=")
                attributes[attr.strip().lower()] = value.strip()
            return attributes
    raise AssertionError(f"no Set-Cookie for {name}: {set_cookie_headers(response)}")


def clears_cookie(response: Any, name: str = "session") -> bool:
    """True when the response tells the browser to drop the session cookie."""
    attributes = cookie_attributes(response, name)
    if attributes.get("max-age") == "0":
        return True
    expires = attributes.get("expires")
    if expires:
        from email.utils import parsedate_to_datetime

        from core.clock import utcnow

        return parsedate_to_datetime(expires) <= utcnow()
    return False
