"""Helpers shared by the end-to-end tests: headers, sign-in shortcuts and custom apps."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from auth.passwords import BcryptHasher, PasswordHasher
from app.factory import create_app
from core.settings import Settings
from tests.conftest import LOGIN, STRONG_PASSWORD, bearer, gql

CREATE_TOKEN = """
mutation Create($name: String!, $scopes: [String!], $days: Int) {
  createApiToken(name: $name, scopes: $scopes, expiresInDays: $days) {
    token
    credential { id kind name scopes createdAt lastUsedAt expiresAt userAgent current }
  }
}"""
MY_CREDENTIALS = "query { myCredentials { id kind name scopes current lastUsedAt expiresAt } }"
ALL_SCOPES = ["users:read", "users:write", "credentials:read", "credentials:write"]
# The WWW-Authenticate challenges of the contract.
PLAIN_CHALLENGE = 'Bearer realm="gatehouse"'
BEARER_CHALLENGE = 'Bearer realm="gatehouse", error="invalid_token"'
TOKEN_CHALLENGE = 'Token realm="gatehouse"'
BASIC_CHALLENGE = 'Basic realm="gatehouse", charset="UTF-8"'


def basic(login: str, password: str) -> dict[str, str]:
    """An Authorization header for HTTP Basic, UTF-8 encoded."""
    raw = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def token(value: str) -> dict[str, str]:
    """An Authorization header for an API token."""
    return {"Authorization": f"Token {value}"}


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


async def cookie_login(
    client: httpx.AsyncClient, login: str, password: str = STRONG_PASSWORD
) -> tuple[str, Any]:
    """Log in with the COOKIE transport into the client's jar; returns (cookie value, response)."""
    result = await gql(
        client, LOGIN, {"input": {"login": login, "password": password, "transport": "COOKIE"}}
    )
    assert result.status == 200, result.body
    value = session_cookie_value(result)
    assert value, result.headers
    return value, result


def cookie_header(value: str, name: str = "session") -> dict[str, str]:
    """A `Cookie` header carrying a session id (send with `cookies=False`)."""
    return {"Cookie": f"{name}={value}"}


async def create_token(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    scopes: list[str] | None = None,
    name: str = "ci",
    days: int | None = None,
) -> dict[str, Any]:
    """Create an API token as the holder of `headers`; returns the `createApiToken` payload."""
    variables: dict[str, Any] = {"name": name, "scopes": scopes if scopes is not None else []}
    if days is not None:
        variables["days"] = days
    result = await gql(client, CREATE_TOKEN, variables, headers=headers, cookies=False)
    assert result.status == 200 and not result.errors, result.body
    payload: dict[str, Any] = result.data["createApiToken"]
    return payload


def jwt_headers(tokens: dict[str, Any]) -> dict[str, str]:
    """The Authorization header for the access token of a BEARER payload."""
    return bearer(tokens["accessToken"])


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings,
    client: tuple[str, int] = ("127.0.0.1", 123),
    hasher: PasswordHasher | None = None,
    base_url: str = "http://testserver",
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app built from `settings`, seen as coming from `client`.

    Callers that run on PostgreSQL must also request the `clean_backends` fixture.
    """
    application = create_app(settings, hasher=hasher)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield http


class CountingHasher(BcryptHasher):
    """A real bcrypt hasher that counts verifications (to see when Basic re-verifies)."""

    def __init__(self, rounds: int = 4) -> None:
        super().__init__(rounds=rounds, concurrency=4)
        self.verifications = 0

    async def verify(self, password: str, password_hash: str) -> bool:
        self.verifications += 1
        return await super().verify(password, password_hash)
