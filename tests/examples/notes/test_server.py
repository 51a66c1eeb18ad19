"""The example served as a team would serve it: `SCHEMA_MODULES=examples.notes` in the
environment of `python main.py serve` (real uvicorn), talked to by a real GraphQL client
(gql), which fetches the served schema and validates every document against it.

On SQLite the server migrates the module's table at start; with TEST_DATABASE_URL the
same story runs on PostgreSQL (and Redis) after `python main.py migrate`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gql import Client, GraphQLRequest
from gql.client import SyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

from tests.helpers import STRONG_PASSWORD, TEST_DATABASE_URL, TEST_REDIS_URL, TEST_SECRET
from tests.helpers.processes import ROOT, GatehouseServer

pytestmark = pytest.mark.server

REGISTER = """mutation($u: String!, $e: String!, $p: String!) {
  register(input: {username: $u, email: $e, password: $p, transport: BEARER}) { user { id } accessToken } }"""
CREATE_TOKEN = """mutation($scopes: [String!]) {
  createApiToken(name: "notes script", scopes: $scopes) { token credential { id } } }"""
REVOKE = "mutation($id: ID!) { revokeCredential(id: $id) }"
CREATE = (
    'mutation($title: String!) { createNote(input: {title: $title, body: "from gql"}) { id title ownerId } }'
)
NOTES = "{ notes { id title } }"


def module_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """What `serve` and `migrate` read: the example module, the database, a test key."""
    return {
        "SCHEMA_MODULES": "examples.notes",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "APP_ENV": "development",
    }


@pytest.fixture
def served(tmp_path: Path, clean_backends: None) -> Iterator[str]:
    """A real server with the example module; its /graphql URL."""
    if TEST_DATABASE_URL:
        env = module_environment(TEST_DATABASE_URL, TEST_REDIS_URL or "")
        migrated = subprocess.run(
            [sys.executable, "main.py", "migrate"],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrated.returncode == 0, migrated.stderr
    else:
        env = module_environment(f"sqlite://{tmp_path / 'notes.db'}", "")
    with GatehouseServer(env) as server:
        yield f"{server.url}/graphql"


def client(url: str, authorization: str | None = None) -> Client:
    """A gql client that checks each document against the schema the server serves."""
    headers = {"Authorization": authorization} if authorization else {}
    return Client(
        transport=HTTPXTransport(url=url, headers=headers, timeout=30), fetch_schema_from_transport=True
    )


def run(gql_client: Client, document: str, **variables: object) -> dict:
    """`document` in a session of its own (the client fetches the schema first)."""
    with gql_client as session:
        return execute(session, document, **variables)


def execute(session: SyncClientSession, document: str, **variables: object) -> dict:
    """`document` in an open session: validated against the fetched schema, then sent."""
    result: dict = session.execute(GraphQLRequest(document, variable_values=variables or None))
    return result


def refusal(session: SyncClientSession, document: str, **variables: object) -> str:
    """The one error code the server answers `document` with."""
    with pytest.raises(TransportQueryError) as refused:
        execute(session, document, **variables)
    errors = refused.value.errors or []
    assert len(errors) == 1, errors
    code: str = errors[0]["extensions"]["code"]
    return code


def test_a_real_client_uses_the_module_through_a_real_server(served: str) -> None:
    with client(served) as anonymous:
        # The served schema, fetched by introspection, has the module's fields.
        schema = anonymous.client.schema
        assert schema is not None and schema.query_type is not None and schema.mutation_type is not None
        assert {"note", "notes", "allNotes"} <= set(schema.query_type.fields)
        assert {"createNote", "updateNote", "deleteNote"} <= set(schema.mutation_type.fields)
        assert refusal(anonymous, NOTES) == "UNAUTHENTICATED"
        writer = execute(anonymous, REGISTER, u="writer", e="writer@example.com", p=STRONG_PASSWORD)
        stranger = execute(anonymous, REGISTER, u="stranger", e="stranger@example.com", p=STRONG_PASSWORD)

    with client(served, f"Bearer {writer['register']['accessToken']}") as owner:
        note = execute(owner, CREATE, title="Served")["createNote"]
        assert note["ownerId"] == writer["register"]["user"]["id"]
        assert execute(owner, NOTES) == {"notes": [{"id": note["id"], "title": "Served"}]}
        issued = execute(owner, CREATE_TOKEN, scopes=["notes:read"])["createApiToken"]

        with client(served, f"Token {issued['token']}") as reader:
            assert execute(reader, NOTES) == {"notes": [{"id": note["id"], "title": "Served"}]}
            assert refusal(reader, CREATE, title="refused") == "FORBIDDEN"

            assert execute(owner, REVOKE, id=issued["credential"]["id"]) == {"revokeCredential": True}
            # The reader's very next request, on the connection it already holds.
            assert refusal(reader, NOTES) == "UNAUTHENTICATED"

    with client(served, f"Bearer {stranger['register']['accessToken']}") as other:
        assert execute(other, NOTES) == {"notes": []}
