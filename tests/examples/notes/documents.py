"""The GraphQL documents and calls the notes tests share (imported by the test modules,
never by a conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import GQLResponse, gql

# What the notes tests serve (`SCHEMA_MODULES=examples.notes`).
SCHEMA_MODULES = ("examples.notes",)
NOTE_FIELDS = "id title body ownerId createdAt updatedAt"
CREATE = f"mutation($input: NoteInput!) {{ createNote(input: $input) {{ {NOTE_FIELDS} }} }}"
UPDATE = (
    f"mutation($id: ID!, $input: NotePatch!) {{ updateNote(id: $id, input: $input) {{ {NOTE_FIELDS} }} }}"
)
DELETE = f"mutation($id: ID!) {{ deleteNote(id: $id) {{ {NOTE_FIELDS} }} }}"
NOTE = f"query($id: ID!) {{ note(id: $id) {{ {NOTE_FIELDS} }} }}"
NOTES = f"query($first: Int, $after: ID) {{ notes(first: $first, after: $after) {{ {NOTE_FIELDS} }} }}"
ALL_NOTES = (
    "query($first: Int, $after: ID, $ownerId: ID) "
    f"{{ allNotes(first: $first, after: $after, ownerId: $ownerId) {{ {NOTE_FIELDS} }} }}"
)
REVOKE = "mutation($id: ID!) { revokeCredential(id: $id) }"
REVOKE_ROLE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { id roles } }"


async def call(
    http: httpx.AsyncClient, query: str, headers: dict[str, str] | None, **variables: Any
) -> GQLResponse:
    """Run `query` as the holder of `headers` (None: anonymous), never with the cookie jar."""
    return await gql(http, query, variables, headers=headers, cookies=False)


async def create_note(
    http: httpx.AsyncClient, headers: dict[str, str], title: str = "Groceries", body: str = "milk"
) -> dict[str, Any]:
    """Create a note as the holder of `headers`; the note."""
    result = await call(http, CREATE, headers, input={"title": title, "body": body})
    assert result.status == 200 and not result.errors, result.body
    note: dict[str, Any] = result.data["createNote"]
    return note


def only_code(result: GQLResponse) -> str:
    """The one error code of `result` (it must hold exactly one error)."""
    assert len(result.errors) == 1, result.body
    code: str = result.codes[0]
    return code


def fields_of(result: GQLResponse) -> dict[str, str]:
    """`extensions.fields` of the one BAD_USER_INPUT error of `result`."""
    assert only_code(result) == "BAD_USER_INPUT", result.body
    fields: dict[str, str] = result.errors[0]["extensions"]["fields"]
    return fields
