"""Raw GraphQL-over-HTTP exchanges for the tests of contract section 6.

`tests.helpers.gql` speaks the common dialect (POST, JSON, default `Accept`); these tests
need every part of the request in hand: the method, `Accept`, the content type, the body
as bytes, the query string.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers import GRAPHQL

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# What Apollo Client 4 sends; what a browser sends when it navigates to a page.
APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
# `Accept` values and the media type each must be answered with.
MEDIA_TYPES = {JSON: JSON, GRAPHQL_RESPONSE_JSON: GRAPHQL_RESPONSE_JSON}


async def post(
    client: httpx.AsyncClient,
    body: Any,
    accept: str | None = JSON,
    headers: dict[str, str] | None = None,
    content_type: str | None = JSON,
) -> httpx.Response:
    """POST `body` (JSON-encoded unless it is bytes) with exactly the given `Accept` and
    `Content-Type` (None: the header is left out)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = dict(headers or {})
    if accept is not None:
        sent["Accept"] = accept
    if content_type is not None:
        sent["Content-Type"] = content_type
    request = client.build_request("POST", GRAPHQL, content=content, headers=sent)
    if accept is None:
        del request.headers["accept"]  # httpx adds `Accept: */*` by default
    return await client.send(request)


async def get(
    client: httpx.AsyncClient,
    params: dict[str, str],
    accept: str | None = JSON,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET /graphql with `params` in the query string and exactly the given `Accept`."""
    sent = dict(headers or {})
    if accept is not None:
        sent["Accept"] = accept
    request = client.build_request("GET", GRAPHQL, params=params, headers=sent)
    if accept is None:
        del request.headers["accept"]
    return await client.send(request)


def get_params(query: str, variables: Any = None, operation_name: str | None = None, extensions: Any = None):
    """The query string of a GraphQL GET: JSON-encoded `variables` and `extensions`."""
    params = {"query": query}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    if operation_name is not None:
        params["operationName"] = operation_name
    if extensions is not None:
        params["extensions"] = json.dumps(extensions)
    return params


def media_type(response: httpx.Response) -> str:
    """The response's media type, without parameters (`charset`)."""
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def body_of(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object (fails the test with the text when it is not one)."""
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"not JSON ({response.status_code}): {response.text[:500]!r}") from None
    assert isinstance(body, dict), body
    return body


def codes_of(response: httpx.Response) -> list[str | None]:
    """The `extensions.code` of each error of the response."""
    return [(e.get("extensions") or {}).get("code") for e in body_of(response).get("errors") or []]


def shown(response: httpx.Response) -> str:
    """The response, for an assertion message."""
    return f"{response.status_code} {dict(response.headers)} {response.text[:1000]}"


def assert_request_error(response: httpx.Response, code: str, accept: str | None) -> dict[str, Any]:
    """A failure before execution (parse, validation, coercion, a bad request), answered in the
    media type `accept` calls for: with `application/graphql-response+json` 400 and no `data`
    key; with `application/json` (or none) the status of section 5 (200 for parse, validation
    and coercion failures, 400 for BAD_REQUEST) and no data either. Returns the body."""
    body = body_of(response)
    # A document may break several rules at once; every error then carries the same code.
    assert codes_of(response) and set(codes_of(response)) == {code}, shown(response)
    for error in body["errors"]:
        assert isinstance(error.get("message"), str) and error["message"], error
    assert response.headers["cache-control"] == "no-store", shown(response)
    if accept == GRAPHQL_RESPONSE_JSON:
        assert response.status_code == 400, shown(response)
        assert media_type(response) == GRAPHQL_RESPONSE_JSON, shown(response)
        assert "data" not in body, shown(response)
    else:
        expected = 400 if code == "BAD_REQUEST" else 200
        assert response.status_code == expected, shown(response)
        assert media_type(response) == JSON, shown(response)
        assert body.get("data") is None, shown(response)
    return body
