"""GraphQL over HTTP for tests: the request helper, the common documents and sign-in shortcuts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers.config import STRONG_PASSWORD
from tests.helpers.headers import session_cookie_value

GRAPHQL = "/graphql"

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { user { id username email roles } accessToken refreshToken tokenType expiresIn }
}"""
LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { user { id username roles } accessToken refreshToken tokenType expiresIn }
}"""
ME = "query { me { id username email roles } }"
CREATE_TOKEN = """
mutation Create($name: String!, $scopes: [String!], $days: Int) {
  createApiToken(name: $name, scopes: $scopes, expiresInDays: $days) {
    token
    credential { id kind name scopes createdAt lastUsedAt expiresAt userAgent current }
  }
}"""
MY_CREDENTIALS = "query { myCredentials { id kind name scopes current lastUsedAt expiresAt } }"
ALL_SCOPES = ["users:read", "users:write", "credentials:read", "credentials:write"]


@dataclass
class GQLResponse:
    """A GraphQL answer over HTTP."""

    status: int
    body: dict[str, Any]
    headers: httpx.Headers
    cookies: httpx.Cookies

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    cookies: bool = True,
) -> GQLResponse:
    """POST a GraphQL operation; `cookies=False` sends it without the client's cookie jar."""
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    if cookies:
        response = await client.post(GRAPHQL, json=payload, headers=headers)
    else:
        saved = httpx.Cookies(client.cookies)
        client.cookies.clear()
        try:
            response = await client.post(GRAPHQL, json=payload, headers=headers)
        finally:
            client.cookies = saved
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text}
    return GQLResponse(response.status_code, body, response.headers, response.cookies)


@dataclass
class Persona:
    """A registered user with their password and id."""

    username: str
    email: str
    password: str
    id: str


def login_variables(login: str, password: str, transport: str = "BEARER") -> dict[str, object]:
    """Variables for the LOGIN document."""
    return {"input": {"login": login, "password": password, "transport": transport}}


async def register(
    client: httpx.AsyncClient, username: str, password: str = STRONG_PASSWORD, transport: str = "BEARER"
) -> GQLResponse:
    """Register `username` (email `<username>@example.com`) without touching the cookie jar."""
    return await gql(
        client,
        REGISTER,
        {
            "input": {
                "username": username,
                "email": f"{username}@example.com",
                "password": password,
                "transport": transport,
            }
        },
        cookies=False,
    )


async def make_persona(client: httpx.AsyncClient, username: str, password: str = STRONG_PASSWORD) -> Persona:
    """Register a user and return who they are."""
    result = await register(client, username, password)
    assert result.status == 200, result.body
    return Persona(username, f"{username}@example.com", password, result.data["register"]["user"]["id"])


async def bearer_login(
    client: httpx.AsyncClient, login: str, password: str = STRONG_PASSWORD
) -> dict[str, Any]:
    """Log in with the BEARER transport; returns the `login` payload."""
    result = await gql(
        client, LOGIN, {"input": {"login": login, "password": password, "transport": "BEARER"}}, cookies=False
    )
    assert result.status == 200, result.body
    payload: dict[str, Any] = result.data["login"]
    return payload


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
