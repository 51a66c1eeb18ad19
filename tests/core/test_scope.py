"""What the request's layers share (core/scope.py): indexed headers, one connection per request."""

from __future__ import annotations

from core.scope import IndexedHeaders


def _scope(*pairs: tuple[bytes, bytes]) -> dict:
    return {"type": "http", "headers": list(pairs)}


def test_indexed_headers_answer_like_starlette_headers():
    headers = IndexedHeaders(
        _scope((b"authorization", b"Bearer first"), (b"cookie", b"a=1"), (b"authorization", b"Bearer second"))
    )
    assert headers["Authorization"] == "Bearer first"  # the first of repeated headers wins
    assert headers.get("AUTHORIZATION") == "Bearer first"
    assert headers.get("origin") is None
    assert headers.get("origin", "none") == "none"
    assert "cookie" in headers and "Cookie" in headers and "origin" not in headers and 3 not in headers
    assert headers.getlist("authorization") == ["Bearer first", "Bearer second"]


def test_indexed_headers_decode_latin_1():
    headers = IndexedHeaders(_scope((b"user-agent", "caf\u00e9".encode("latin-1"))))
    assert headers["user-agent"] == "caf\u00e9"


def test_starlette_still_reads_the_headers_this_module_puts_in_place():
    """core/scope.py RELIES_ON: an upgrade that moves either internal fails here."""
    from starlette.requests import HTTPConnection

    from core.scope import RELIES_ON, connection_of

    assert set(RELIES_ON) == {
        "starlette.datastructures.Headers._list",
        "starlette.requests.HTTPConnection._headers",
    }
    scope = _scope((b"accept", b"application/json"))
    assert vars(IndexedHeaders(scope))["_list"] == scope["headers"], "Headers._list moved"
    connection = connection_of(scope)
    assert isinstance(connection, HTTPConnection)
    assert isinstance(connection.headers, IndexedHeaders), "HTTPConnection no longer reads _headers"
    assert connection.headers.get("accept") == "application/json"
