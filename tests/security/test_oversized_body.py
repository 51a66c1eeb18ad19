"""Request bodies over `MAX_BODY_BYTES` get 413 `PAYLOAD_TOO_LARGE` as GraphQL JSON,
whether the size is declared (`Content-Length`) or only discovered while streaming."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from core.settings import Settings
from tests.helpers import GRAPHQL, make_settings

LIMIT = 4096


@pytest.fixture
def settings() -> Settings:
    return make_settings(max_body_bytes=LIMIT)


def body_of(size: int) -> bytes:
    """A valid JSON request body of exactly `size` bytes."""
    head = b'{"query": "{ me { id } }", "variables": {"pad": "'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert "data" not in body, body  # refused before anything executed
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert str(LIMIT) in body["errors"][0]["message"]


async def test_a_declared_oversized_body_is_refused(http: httpx.AsyncClient):
    response = await http.post(
        GRAPHQL, content=body_of(LIMIT + 1), headers={"Content-Type": "application/json"}
    )
    assert_too_large(response)


async def test_a_huge_declared_length_is_refused_without_reading_the_body(http: httpx.AsyncClient):
    reads = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal reads
        for _ in range(1000):
            reads += 1
            yield b"x" * 1024

    response = await http.post(
        GRAPHQL,
        content=chunks(),
        headers={"Content-Type": "application/json", "Content-Length": str(1024 * 1000)},
    )
    assert_too_large(response)
    assert reads <= 1  # refused on the declared length, not after receiving 1000 chunks


async def test_a_streamed_body_without_length_is_cut_off_at_the_limit(http: httpx.AsyncClient):
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        data = body_of(LIMIT * 4)
        for start in range(0, len(data), 512):
            sent += 1
            yield data[start : start + 512]

    request = http.build_request(
        "POST", GRAPHQL, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in request.headers  # chunked
    response = await http.send(request)
    assert_too_large(response)
    assert sent < len(body_of(LIMIT * 4)) // 512  # stopped reading soon after the limit


async def test_a_body_at_the_limit_is_accepted(http: httpx.AsyncClient):
    response = await http.post(GRAPHQL, content=body_of(LIMIT), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": None}}


@pytest.mark.parametrize(
    "body",
    [
        b'"just a string"',
        b"42",
        b"null",
        b"[" * 5000 + b"]" * 5000,
        b"\xff\xfe{",
        b"{",
    ],
    ids=["string", "number", "null", "deep-array", "not-utf8", "truncated"],
)
async def test_malformed_json_bodies_get_a_json_error_never_a_500(open_app, body):
    """Section 6: a body that is not a JSON object with a `query` is a `BAD_REQUEST`."""
    client = await open_app(make_settings(max_body_bytes=64 * 1024))
    response = await client.post(GRAPHQL, content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    payload = json.loads(response.text)
    assert "data" not in payload, payload
    assert [e["extensions"]["code"] for e in payload["errors"]] == ["BAD_REQUEST"], payload
