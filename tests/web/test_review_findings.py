"""Defects a review of the new HTTP face found, each held by a test: a body limit that a
Content-Length beside chunked encoding skipped, a fragment chain that answered 500,
persisted documents that could fill memory, a forged access-log line, literals echoed
in validation errors, a 500 under graphql-response+json, and a `true` persisted-query
version."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from services import accounts
from tests.helpers import STRONG_PASSWORD, app_client, make_settings
from tests.web.exchange import GRAPHQL_RESPONSE_JSON, JSON, body_of, codes_of, post, shown
from tests.web.test_persisted_queries import assert_not_found, by_hash, with_document
from web.middleware import BodyLimit

SECRET_LITERAL = "S3cretPassphrase"
LOGIN_WITH = 'mutation { login(input: {login: "a", password: PASSWORD}) { user { id } } }'


async def test_a_chunked_body_that_also_declares_a_length_is_still_counted():
    """h11 reads the chunks when both headers are present: the declared length is no bound."""
    read: list[int] = []

    async def reader(scope: Any, receive: Any, send: Any) -> None:
        total = 0
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        read.append(total)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    chunks = [{"type": "http.request", "body": b"x" * 1024, "more_body": True} for _ in range(100)]
    chunks.append({"type": "http.request", "body": b"", "more_body": False})

    async def receive() -> Any:
        return chunks.pop(0)

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]
    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}
    await BodyLimit(reader, max_bytes=2048)(scope, receive, send)
    assert read == []  # the app never got the whole body
    assert sent[0]["status"] == 413


async def test_a_long_chain_of_fragments_is_refused_in_validation_not_a_500(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    fragments = " ".join(f"fragment F{i} on User {{ ...F{i + 1} }}" for i in range(240))
    document = "{ me { ...F0 } } " + fragments + " fragment F240 on User { id }"
    with caplog.at_level(logging.ERROR):
        response = await post(http, {"query": document})
    assert response.status_code == 200, shown(response)
    assert codes_of(response) == ["GRAPHQL_VALIDATION_FAILED"], shown(response)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_persisted_document_too_long_to_keep_runs_but_is_not_remembered(http: httpx.AsyncClient):
    document = "{ __typename } #" + "x" * (40 * 1024)
    ran = await post(http, with_document(document))
    assert body_of(ran) == {"data": {"__typename": "Query"}}, shown(ran)
    assert_not_found(await post(http, by_hash(document)))


async def test_the_in_memory_store_is_bounded_by_bytes_not_documents():
    from web.persisted import LOCAL_BYTES, MAX_REMEMBERED_BYTES, PersistedQueries, sha256_hex

    store = PersistedQueries("auto")
    documents = [f"{{ __typename }} #{i:06d}" + "x" * (MAX_REMEMBERED_BYTES - 40) for i in range(600)]
    for document in documents:
        await store.remember(sha256_hex(document), document)
    kept = sum(len(d) for d in store._local.values())
    assert kept <= LOCAL_BYTES
    # The newest are the ones kept.
    assert (
        await store.document(
            None, {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(documents[-1])}}
        )
    )[0] == documents[-1]


async def test_a_percent_encoded_newline_cannot_forge_an_access_log_line(caplog: pytest.LogCaptureFixture):
    async with app_client(make_settings(app_env="development")) as client:
        with caplog.at_level(logging.INFO, logger="gatehouse.access"):
            await client.get("/graphql%0A127.0.0.1%20POST%20/graphql%20200%201.0ms?query=%7Bme%7Bid%7D%7D")
    lines = [r.getMessage() for r in caplog.records if r.name == "gatehouse.access"]
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert "%0A" in lines[0] and "query=" not in lines[0], lines


@pytest.mark.parametrize(
    "document",
    [
        LOGIN_WITH.replace("PASSWORD", f'"{SECRET_LITERAL}", bogus: 1'),
        LOGIN_WITH.replace("PASSWORD", SECRET_LITERAL),
    ],
    ids=["unknown input field beside it", "unquoted"],
)
async def test_a_refused_literal_is_not_echoed_back(http: httpx.AsyncClient, document: str):
    response = await post(http, {"query": document})
    assert codes_of(response) and set(codes_of(response)) == {"GRAPHQL_VALIDATION_FAILED"}, shown(response)
    assert SECRET_LITERAL not in response.text, shown(response)


@pytest.mark.parametrize(("accept", "status"), [(GRAPHQL_RESPONSE_JSON, 200), (JSON, 500)])
async def test_an_unexpected_error_during_execution_is_200_with_graphql_response_json(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, accept: str, status: int
):
    """Section 6: once execution starts, graphql-response+json answers 200 but for 401,
    403, 429 and 503; application/json keeps section 5's 500."""

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts, "register", broken)
    variables = {"input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}}
    query = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }"
    response = await post(http, {"query": query, "variables": variables}, accept=accept)
    assert response.status_code == status, shown(response)
    assert codes_of(response) == ["INTERNAL_SERVER_ERROR"]
    assert body_of(response)["data"] is None


async def test_a_persisted_query_version_of_true_is_a_bad_request(http: httpx.AsyncClient):
    response = await post(http, {"extensions": {"persistedQuery": {"version": True, "sha256Hash": "0" * 64}}})
    assert codes_of(response) == ["BAD_REQUEST"], shown(response)
