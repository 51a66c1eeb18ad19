"""What the middleware layers learn about a request, read once and kept in its ASGI scope.

The body limit, the origin check, authentication and the view all read the same
headers and client address; each layer takes them from here instead of parsing again.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import Scope

from core.client import ClientInfo, client_info
from core.settings import Settings

# Starlette internals this module relies on (starlette is pinned exactly in
# pyproject.toml; tests/core/test_scope.py fails, naming the entry, when one moves).
RELIES_ON = {
    "starlette.datastructures.Headers._list": "the raw header pairs IndexedHeaders indexes",
    "starlette.requests.HTTPConnection._headers": "where `.headers` is read from once set",
}
CONNECTION_KEY = "gatehouse.connection"
CLIENT_KEY = "gatehouse.client"


class IndexedHeaders(Headers):
    """Starlette's request headers, looked up through a dict built once.

    A request's headers are read a dozen times (content type, CSRF, credentials, proxy
    headers); Starlette's `Headers` scans and decodes the whole list on each lookup.
    Like `Headers.__getitem__`, the first of repeated headers wins.
    """

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        self._index: dict[bytes, bytes] = {}
        for key, value in reversed(self._list):
            self._index[key] = value

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower().encode("latin-1")].decode("latin-1")

    def get(self, key: str, default: Any = None) -> Any:
        value = self._index.get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower().encode("latin-1") in self._index


def connection_of(scope: Scope) -> HTTPConnection:
    """The request's headers, cookies and URL, built once per request."""
    connection: HTTPConnection | None = scope.get(CONNECTION_KEY)
    if connection is None:
        connection = HTTPConnection(scope)
        connection._headers = IndexedHeaders(scope)
        scope[CONNECTION_KEY] = connection
    return connection


def client_of(scope: Scope, settings: Settings) -> ClientInfo:
    """The client's address, scheme and user agent (core/client.py), worked out once."""
    client: ClientInfo | None = scope.get(CLIENT_KEY)
    if client is None:
        client = client_info(connection_of(scope), settings)
        scope[CLIENT_KEY] = client
    return client
