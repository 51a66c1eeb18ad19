"""Asking `POST /oauth/introspect` as a service would: a token made for it, and the call."""

from __future__ import annotations

import httpx

from tests.helpers.graphql import Persona, bearer_login, create_token
from tests.helpers.headers import jwt_headers, token

INTROSPECT = "/oauth/introspect"
INTROSPECT_SCOPE = "tokens:introspect"
INACTIVE = b'{"active":false}'


async def introspector(http: httpx.AsyncClient, admin: Persona) -> dict[str, str]:
    """The Authorization header of a service's token made by `admin` for introspection."""
    payload = await create_token(
        http, jwt_headers(await bearer_login(http, admin.username)), [INTROSPECT_SCOPE]
    )
    return token(payload["token"])


async def ask(http: httpx.AsyncClient, caller: dict[str, str], value: str, **form: str) -> httpx.Response:
    """Introspect `value` as `caller`, with any other form fields (`token_type_hint`)."""
    return await http.post(INTROSPECT, data={"token": value, **form}, headers=caller)
