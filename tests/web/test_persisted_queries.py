"""Contract section 6, persisted queries.

Automatic persisted queries (Apollo's protocol): a client sends
`extensions.persistedQuery = {"version": 1, "sha256Hash": ...}` alone; an unknown hash is
answered `PERSISTED_QUERY_NOT_FOUND`, the client sends the hash with the document, which
registers it, and from then on the hash alone runs it, over POST and over GET. A hash that
is not the document's is refused. With `REDIS_URL` the registrations are shared.

`PERSISTED_QUERIES=only` with `PERSISTED_QUERIES_FILE` (a JSON object of sha256 to
document): those documents run by hash, nothing else runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import (
    REGISTER,
    STRONG_PASSWORD,
    TEST_REDIS_URL,
    Persona,
    app_client,
    bearer_login,
    jwt_headers,
    make_settings,
)
from tests.web.exchange import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    assert_request_error,
    body_of,
    codes_of,
    get,
    media_type,
    post,
    shown,
)

ME = "query Me { me { id username } }"
BOTH = pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, JSON], ids=["gql-response", "json"])


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document_or_hash: str, *, is_hash: bool = False) -> dict[str, Any]:
    """The `extensions` of an automatic persisted query."""
    digest = document_or_hash if is_hash else sha256(document_or_hash)
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def by_hash(document: str, **extra: Any) -> dict[str, Any]:
    """A POST body carrying the document's hash alone."""
    return {"extensions": persisted(document), **extra}


def with_document(document: str, **extra: Any) -> dict[str, Any]:
    """A POST body carrying the hash and the document (Apollo's second try)."""
    return {"query": document, "extensions": persisted(document), **extra}


def get_by_hash(document: str, variables: Any = None, operation_name: str | None = None) -> dict[str, str]:
    params = {"extensions": json.dumps(persisted(document))}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    if operation_name is not None:
        params["operationName"] = operation_name
    return params


def assert_not_found(response: httpx.Response, accept: str | None = JSON, unknown_hash: bool = True) -> None:
    """`PERSISTED_QUERY_NOT_FOUND`, answered so Apollo's link retries with the document:
    Apollo Server's convention, 200, and for an unknown hash the message Apollo Client also
    matches. With graphql-response+json nothing executed, so there is no `data` key."""
    body = body_of(response)
    assert codes_of(response) == ["PERSISTED_QUERY_NOT_FOUND"], shown(response)
    if unknown_hash:
        assert body["errors"][0]["message"] == "PersistedQueryNotFound", shown(response)
    assert response.status_code == 200, shown(response)
    assert response.headers["cache-control"] == "no-store", shown(response)
    if accept == GRAPHQL_RESPONSE_JSON:
        assert media_type(response) == GRAPHQL_RESPONSE_JSON
        assert "data" not in body, shown(response)
    else:
        assert body.get("data") is None, shown(response)


# -- automatic persisted queries ----------------------------------------------------------


@BOTH
async def test_an_unknown_hash_is_persisted_query_not_found(http: httpx.AsyncClient, accept: str):
    assert_not_found(await post(http, by_hash(ME), accept=accept), accept)
    assert_not_found(await get(http, get_by_hash(ME), accept=accept), accept)


@BOTH
async def test_hash_and_document_register_then_the_hash_alone_runs(http: httpx.AsyncClient, accept: str):
    first = await post(http, by_hash(ME), accept=accept)
    assert_not_found(first, accept)

    registered = await post(http, with_document(ME), accept=accept)
    again = await post(http, by_hash(ME), accept=accept)
    over_get = await get(http, get_by_hash(ME), accept=accept)

    for response in (registered, again, over_get):
        assert response.status_code == 200, shown(response)
        assert body_of(response) == {"data": {"me": None}}, shown(response)


async def test_a_registration_over_get_works_too(http: httpx.AsyncClient):
    params = {"query": ME, "extensions": json.dumps(persisted(ME))}
    registered = await get(http, params)
    assert registered.status_code == 200 and body_of(registered) == {"data": {"me": None}}, shown(registered)
    again = await post(http, by_hash(ME))
    assert body_of(again) == {"data": {"me": None}}, shown(again)


async def test_the_hash_alone_takes_new_variables_and_credentials(
    http: httpx.AsyncClient, alice: Persona, bob
):
    document = "query Who($id: ID!) { user(id: $id) { username } }"
    alice_headers = jwt_headers(await bearer_login(http, "alice"))
    first = await post(http, with_document(document, variables={"id": alice.id}), headers=alice_headers)
    assert body_of(first) == {"data": {"user": {"username": "alice"}}}, shown(first)

    bob_by_hash = await post(http, by_hash(document, variables={"id": bob.id}), headers=alice_headers)
    anonymous = await post(http, by_hash(document, variables={"id": bob.id}))

    assert body_of(bob_by_hash) == {"data": {"user": {"username": "bob"}}}, shown(bob_by_hash)
    assert anonymous.status_code == 401 and codes_of(anonymous) == ["UNAUTHENTICATED"], shown(anonymous)


@BOTH
@pytest.mark.parametrize(
    "claimed",
    [sha256("{ __typename }"), "0" * 64, "not-a-hash"],
    ids=["another-documents", "zeros", "not-hex"],
)
async def test_a_hash_that_is_not_the_documents_is_refused_and_not_registered(
    http: httpx.AsyncClient, accept: str, claimed: str
):
    """Otherwise anyone could make a known hash run a document of their choosing."""
    body = {"query": ME, "extensions": persisted(claimed, is_hash=True)}

    refused = await post(http, body, accept=accept)

    assert_request_error(refused, "BAD_REQUEST", accept)
    if claimed != "not-a-hash":
        assert_not_found(
            await post(http, {"extensions": persisted(claimed, is_hash=True)}, accept=accept), accept
        )


@BOTH
@pytest.mark.parametrize(
    "extension",
    [
        {"version": 2, "sha256Hash": sha256(ME)},
        {"sha256Hash": sha256(ME)},
        {"version": 1},
        {"version": 1, "sha256Hash": 5},
        "a string",
        [sha256(ME)],
    ],
    ids=["version-2", "no-version", "no-hash", "hash-not-a-string", "string", "list"],
)
async def test_a_malformed_persisted_query_extension_is_a_bad_request(
    http: httpx.AsyncClient, accept: str, extension: Any
):
    response = await post(http, {"query": ME, "extensions": {"persistedQuery": extension}}, accept=accept)
    assert_request_error(response, "BAD_REQUEST", accept)


@pytest.mark.parametrize(
    ("document", "code"),
    [("{ me { id ", "GRAPHQL_PARSE_FAILED"), ("{ nope }", "GRAPHQL_VALIDATION_FAILED")],
    ids=["parse", "validation"],
)
async def test_a_document_that_fails_is_not_registered(http: httpx.AsyncClient, document: str, code: str):
    failed = await post(http, with_document(document))
    assert codes_of(failed) == [code], shown(failed)
    assert_not_found(await post(http, by_hash(document)))


async def test_a_persisted_mutation_runs_over_post_and_is_405_over_get(http: httpx.AsyncClient):
    def variables(name: str) -> dict[str, Any]:
        return {"input": {"username": name, "email": f"{name}@example.com", "password": STRONG_PASSWORD,
                          "transport": "BEARER"}}  # fmt: skip

    registered = await post(http, with_document(REGISTER, variables=variables("carol")))
    assert registered.status_code == 200 and "errors" not in body_of(registered), shown(registered)

    over_get = await get(http, get_by_hash(REGISTER, variables("dave")))
    assert over_get.status_code == 405 and over_get.headers["allow"] == "POST", shown(over_get)
    assert codes_of(over_get) == ["BAD_REQUEST"]

    by_post = await post(http, by_hash(REGISTER, variables=variables("dave")))
    assert body_of(by_post)["data"]["register"]["user"]["username"] == "dave", shown(by_post)
    # dave was created by the POST, not by the refused GET: a second POST is a duplicate.
    duplicate = await post(http, by_hash(REGISTER, variables=variables("dave")))
    assert codes_of(duplicate) == ["BAD_USER_INPUT"], shown(duplicate)


@pytest.mark.skipif(TEST_REDIS_URL is None, reason="sharing between instances needs TEST_REDIS_URL")
async def test_registrations_are_shared_between_instances_through_redis(clean_backends):
    settings = make_settings()
    async with app_client(settings) as first, app_client(settings) as second:
        assert_not_found(await post(second, by_hash(ME)))
        registered = await post(first, with_document(ME))
        assert body_of(registered) == {"data": {"me": None}}, shown(registered)

        on_the_other = await post(second, by_hash(ME))
        over_get = await get(second, get_by_hash(ME))

    assert body_of(on_the_other) == {"data": {"me": None}}, shown(on_the_other)
    assert body_of(over_get) == {"data": {"me": None}}, shown(over_get)


# -- PERSISTED_QUERIES=only with a manifest ----------------------------------------------

LISTED_ME = "query ListedMe { me { id username } }"
LISTED_WHO = "query ListedWho($id: ID!) { user(id: $id) { username } }"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """A manifest as GraphQL Code Generator's client preset writes it: sha256 -> document."""
    path = tmp_path / "persisted-documents.json"
    documents = [LISTED_ME, LISTED_WHO, REGISTER]
    path.write_text(json.dumps({sha256(d): d for d in documents}, indent=2))
    return path


@pytest.fixture
async def only(manifest: Path, clean_backends) -> Any:
    async with app_client(
        make_settings(persisted_queries="only", persisted_queries_file=str(manifest))
    ) as client:
        yield client


@BOTH
async def test_only_listed_documents_run_by_hash(only: httpx.AsyncClient, accept: str):
    by_post = await post(only, by_hash(LISTED_ME), accept=accept)
    over_get = await get(only, get_by_hash(LISTED_ME), accept=accept)
    for response in (by_post, over_get):
        assert response.status_code == 200, shown(response)
        assert body_of(response) == {"data": {"me": None}}, shown(response)


async def test_only_listed_documents_take_variables_and_credentials(only: httpx.AsyncClient):
    variables = {"input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD,
                           "transport": "BEARER"}}  # fmt: skip
    registered = await post(only, by_hash(REGISTER, variables=variables))
    assert registered.status_code == 200 and "errors" not in body_of(registered), shown(registered)
    payload = body_of(registered)["data"]["register"]
    headers = {"Authorization": f"Bearer {payload['accessToken']}"}

    who = await get(only, get_by_hash(LISTED_WHO, {"id": payload["user"]["id"]}), headers=headers)

    assert body_of(who) == {"data": {"user": {"username": "carol"}}}, shown(who)


@BOTH
@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ __typename }"},
        {"query": "query Me { me { id username } }"},  # not a listed text, though it looks alike
        {"query": "{ __typename }", "extensions": persisted("{ __typename }")},
        by_hash("{ __typename }"),
        {"extensions": persisted("0" * 64, is_hash=True)},
    ],
    ids=["free-text", "lookalike", "hash-and-unlisted-document", "unlisted-hash", "unknown-hash"],
)
async def test_only_refuses_every_other_document(only: httpx.AsyncClient, accept: str, body: dict):
    response = await post(only, body, accept=accept)
    assert_not_found(response, accept, unknown_hash="query" not in body)


async def test_only_registers_nothing(only: httpx.AsyncClient):
    document = "{ __typename }"
    assert_not_found(await post(only, with_document(document)), unknown_hash=False)
    assert_not_found(await post(only, by_hash(document)))
    assert_not_found(await get(only, {"query": document}), unknown_hash=False)


async def test_only_reads_apollos_manifest_format_too(tmp_path: Path, clean_backends):
    """`generate-persisted-query-manifest`'s file: `{"format", "version", "operations"}`."""
    path = tmp_path / "persisted-query-manifest.json"
    operation = {"id": sha256(LISTED_ME), "body": LISTED_ME, "name": "ListedMe", "type": "query"}
    path.write_text(
        json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [operation]})
    )
    async with app_client(
        make_settings(persisted_queries="only", persisted_queries_file=str(path))
    ) as client:
        listed = await post(client, by_hash(LISTED_ME))
        other = await post(client, {"query": "{ __typename }"})
    assert body_of(listed) == {"data": {"me": None}}, shown(listed)
    assert_not_found(other, unknown_hash=False)


@pytest.mark.parametrize(
    "content",
    [None, "{not json", '["query { me { id } }"]', json.dumps({"0" * 64: "{ me { id } }"})],
    ids=["missing", "not-json", "not-an-object", "hash-not-the-documents"],
)
async def test_a_manifest_that_cannot_be_trusted_stops_start_up(tmp_path: Path, clean_backends, content):
    """A production server that ships fixed operations must not start without them, nor
    with a manifest whose keys are not its documents' hashes."""
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    settings = make_settings(persisted_queries="only", persisted_queries_file=str(path))
    with pytest.raises(Exception, match="PERSISTED_QUERIES_FILE"):
        async with app_client(settings) as client:
            await post(client, {"query": "{ __typename }"})
