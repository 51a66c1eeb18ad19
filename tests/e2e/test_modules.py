"""A schema module served behind Gatehouse (contract section 8), through the real app.

The module is tests/helpers/modules/projects (not the example): its fields are guarded by
Gatehouse's permission classes and see the identity Gatehouse's own fields see. Owner,
other user, admin, anonymous, and API tokens with and without the module's scopes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests.helpers import (
    LOGIN,
    REGISTER,
    STRONG_PASSWORD,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    TEST_SECRET,
    Persona,
    bearer_login,
    create_token,
    gql,
    jwt_headers,
    make_settings,
    reset_postgres,
    reset_redis,
    token,
)
from tests.helpers.processes import GatehouseServer
from web.subscriptions import PROTOCOL

MODULE = "tests.helpers.modules.projects"
CREATE = "mutation($name: String!) { createProject(name: $name) { id name ownerId } }"
LIST = "query { projects { id name ownerId } }"
ONE = "query($id: ID!) { project(id: $id) { id name ownerId } }"
SEARCH = """query($text: String!) {
  projectSearch(text: $text) { __typename ... on Project { name ownerId } ... on Tag { name colour } }
}"""
NAMED = "query { namedThings { __typename name ... on Project { ownerId } ... on Tag { colour } } }"
STATUS = "query { projectsStatus }"


@pytest.fixture
def settings() -> Settings:
    return make_settings(schema_modules=(MODULE,))


async def _headers(http: httpx.AsyncClient, who: Persona) -> dict[str, str]:
    return jwt_headers(await bearer_login(http, who.username))


async def _create(http: httpx.AsyncClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    result = await gql(http, CREATE, {"name": name}, headers=headers, cookies=False)
    assert result.status == 200 and not result.errors, result.body
    project: dict[str, Any] = result.data["createProject"]
    return project


@pytest.fixture
async def projects(http: httpx.AsyncClient, alice: Persona, bob: Persona) -> dict[str, dict[str, Any]]:
    """Two projects of alice's, one of bob's."""
    alice_headers, bob_headers = await _headers(http, alice), await _headers(http, bob)
    return {
        "alpha": await _create(http, alice_headers, "alpha"),
        "atlas": await _create(http, alice_headers, "atlas"),
        "bravo": await _create(http, bob_headers, "bravo"),
    }


async def test_a_created_project_belongs_to_the_caller(http, alice: Persona, projects):
    assert projects["alpha"]["ownerId"] == alice.id
    assert projects["alpha"]["name"] == "alpha"


async def test_the_owner_lists_only_their_projects(http, alice: Persona, projects):
    result = await gql(http, LIST, headers=await _headers(http, alice), cookies=False)

    assert result.status == 200 and not result.errors, result.body
    assert [p["name"] for p in result.data["projects"]] == ["alpha", "atlas"]


async def test_another_user_lists_only_theirs(http, bob: Persona, projects):
    result = await gql(http, LIST, headers=await _headers(http, bob), cookies=False)

    assert [p["name"] for p in result.data["projects"]] == ["bravo"]


async def test_an_admin_lists_every_project(http, admin: Persona, projects):
    result = await gql(http, LIST, headers=await _headers(http, admin), cookies=False)

    assert sorted(p["name"] for p in result.data["projects"]) == ["alpha", "atlas", "bravo"]


async def test_the_owner_reads_their_project(http, alice: Persona, projects):
    result = await gql(
        http, ONE, {"id": projects["alpha"]["id"]}, headers=await _headers(http, alice), cookies=False
    )

    assert result.status == 200 and not result.errors, result.body
    assert result.data["project"] == projects["alpha"]


async def test_another_users_project_is_forbidden(http, bob: Persona, projects):
    result = await gql(
        http, ONE, {"id": projects["alpha"]["id"]}, headers=await _headers(http, bob), cookies=False
    )

    assert result.codes == ["FORBIDDEN"], result.body
    assert result.data == {"project": None}


async def test_an_admin_reads_anyones_project(http, admin: Persona, projects):
    result = await gql(
        http, ONE, {"id": projects["bravo"]["id"]}, headers=await _headers(http, admin), cookies=False
    )

    assert result.data["project"] == projects["bravo"], result.body


async def test_a_missing_project_is_null(http, alice: Persona, projects):
    missing = "00000000-0000-4000-8000-000000000000"
    result = await gql(http, ONE, {"id": missing}, headers=await _headers(http, alice), cookies=False)

    assert result.status == 200 and not result.errors, result.body
    assert result.data == {"project": None}


@pytest.mark.parametrize("document", [LIST, CREATE, NAMED], ids=["list", "create", "interface"])
async def test_anonymous_callers_are_unauthenticated(http, document: str, projects):
    variables = {"name": "x"} if document is CREATE else None

    result = await gql(http, document, variables, cookies=False)

    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]


async def test_anonymous_callers_read_the_public_field(http):
    result = await gql(http, STATUS, cookies=False)

    assert result.status == 200 and result.data == {"projectsStatus": "projects: ok"}, result.body


async def test_an_anonymous_object_read_is_unauthenticated(http, projects):
    result = await gql(http, ONE, {"id": projects["alpha"]["id"]}, cookies=False)

    assert result.codes == ["UNAUTHENTICATED"], result.body


async def test_a_union_answers_the_callers_projects_and_a_tag(http, alice: Persona, projects):
    result = await gql(http, SEARCH, {"text": "a"}, headers=await _headers(http, alice), cookies=False)

    assert result.status == 200 and not result.errors, result.body
    assert result.data["projectSearch"] == [
        {"__typename": "Project", "name": "alpha", "ownerId": alice.id},
        {"__typename": "Project", "name": "atlas", "ownerId": alice.id},
        {"__typename": "Tag", "name": "a", "colour": "green"},
    ]


async def test_an_interface_list_answers_each_concrete_type(http, bob: Persona, projects):
    result = await gql(http, NAMED, headers=await _headers(http, bob), cookies=False)

    assert result.data["namedThings"] == [
        {"__typename": "Project", "name": "bravo", "ownerId": bob.id},
        {"__typename": "Tag", "name": "inbox", "colour": "grey"},
    ], result.body


# -- API tokens and the module's scopes ---------------------------------------------


async def test_create_api_token_accepts_the_modules_scopes(http, alice: Persona):
    payload = await create_token(http, await _headers(http, alice), ["projects:read", "projects:write"])

    assert payload["credential"]["scopes"] == ["projects:read", "projects:write"]


async def test_create_api_token_still_refuses_unknown_scopes(http, alice: Persona):
    result = await gql(
        http,
        'mutation { createApiToken(name: "ci", scopes: ["projects:delete"]) { token } }',
        headers=await _headers(http, alice),
        cookies=False,
    )

    [error] = result.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT", result.body
    message = error["extensions"]["fields"]["scopes"]
    assert message.startswith("Unknown scope(s) projects:delete; known: ")
    assert "projects:read" in message and "projects:write" in message
    assert "Mutation.createApiToken" not in message


async def test_a_token_with_the_read_scope_lists_but_cannot_write(http, alice: Persona, projects):
    value = (await create_token(http, await _headers(http, alice), ["projects:read"]))["token"]

    listed = await gql(http, LIST, headers=token(value), cookies=False)
    written = await gql(http, CREATE, {"name": "nope"}, headers=token(value), cookies=False)

    assert [p["name"] for p in listed.data["projects"]] == ["alpha", "atlas"], listed.body
    assert written.codes == ["FORBIDDEN"], written.body
    assert written.errors[0]["message"] == "The credential lacks the projects:write scope."


async def test_a_token_with_the_write_scope_creates_for_its_user(http, bob: Persona):
    value = (await create_token(http, await _headers(http, bob), ["projects:write"]))["token"]

    created = await _create(http, token(value), "from-ci")

    assert created["ownerId"] == bob.id


async def test_a_token_without_the_modules_scopes_reads_nothing_of_it(http, alice: Persona, projects):
    value = (await create_token(http, await _headers(http, alice), ["users:read"]))["token"]

    for document, variables in ((LIST, None), (ONE, {"id": projects["alpha"]["id"]}), (NAMED, None)):
        result = await gql(http, document, variables, headers=token(value), cookies=False)
        assert result.codes == ["FORBIDDEN"], (document, result.body)
    public = await gql(http, STATUS, headers=token(value), cookies=False)
    assert public.data == {"projectsStatus": "projects: ok"}


async def test_a_token_scoped_to_the_module_reads_nothing_of_gatehouse(http, alice: Persona):
    value = (await create_token(http, await _headers(http, alice), ["projects:read"]))["token"]

    result = await gql(http, "query { myCredentials { id } }", headers=token(value), cookies=False)

    assert result.codes == ["FORBIDDEN"], result.body


# -- revocation ----------------------------------------------------------------------


async def test_a_revoked_token_is_refused_by_module_fields_on_the_very_next_request(
    http, alice: Persona, projects
):
    headers = await _headers(http, alice)
    payload = await create_token(http, headers, ["projects:read"])
    before = await gql(http, LIST, headers=token(payload["token"]), cookies=False)
    assert [p["name"] for p in before.data["projects"]] == ["alpha", "atlas"], before.body

    revoked = await gql(
        http,
        "mutation($id: ID!) { revokeCredential(id: $id) }",
        {"id": payload["credential"]["id"]},
        headers=headers,
        cookies=False,
    )
    assert revoked.data == {"revokeCredential": True}, revoked.body
    after = await gql(http, LIST, headers=token(payload["token"]), cookies=False)

    assert after.status == 401 and after.codes == ["UNAUTHENTICATED"], after.body


async def test_a_deactivated_owner_is_refused_at_once(http, admin: Persona, alice: Persona, projects):
    alice_headers = await _headers(http, alice)
    assert (await gql(http, LIST, headers=alice_headers, cookies=False)).data["projects"]

    result = await gql(
        http,
        "mutation($id: ID!) { setUserActive(userId: $id, active: false) { id } }",
        {"id": alice.id},
        headers=await _headers(http, admin),
        cookies=False,
    )
    assert not result.errors, result.body
    after = await gql(http, LIST, headers=alice_headers, cookies=False)

    assert after.codes == ["UNAUTHENTICATED"], after.body


async def test_a_withdrawn_admin_role_is_felt_by_the_object_check_at_once(
    http, admin: Persona, bob: Persona, projects
):
    from models import User

    admin_headers = await _headers(http, admin)
    before = await gql(http, ONE, {"id": projects["alpha"]["id"]}, headers=admin_headers, cookies=False)
    assert before.data["project"] == projects["alpha"], before.body
    await User.filter(id=bob.id).update(roles=["admin"])  # a second admin, before bob signs in

    withdrawn = await gql(
        http,
        'mutation($id: ID!) { revokeRole(userId: $id, role: "admin") { roles } }',
        {"id": admin.id},
        headers=await _headers(http, bob),
        cookies=False,
    )
    assert withdrawn.data == {"revokeRole": {"roles": []}}, withdrawn.body
    after = await gql(http, ONE, {"id": projects["alpha"]["id"]}, headers=admin_headers, cookies=False)

    assert after.codes == ["FORBIDDEN"], after.body


# -- a real server: start-up migrations on SQLite, and subscriptions over WebSocket ----


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatehouseServer]:
    """`python main.py serve` with the module, on a fresh SQLite file (migrated at start) or
    on the suite's PostgreSQL (migrated by `reset_postgres`, as `main.py migrate` would)."""
    if TEST_DATABASE_URL:
        asyncio.run(reset_postgres(TEST_DATABASE_URL, modules=(MODULE,)))
        database_url = TEST_DATABASE_URL
    else:
        database_url = f"sqlite://{tmp_path_factory.mktemp('modules') / 'gatehouse.db'}"
    if TEST_REDIS_URL:
        asyncio.run(reset_redis(TEST_REDIS_URL))
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "APP_ENV": "development",
        "SCHEMA_MODULES": MODULE,
        **({"REDIS_URL": TEST_REDIS_URL} if TEST_REDIS_URL else {}),
    }
    with GatehouseServer(env) as server:
        yield server


def _post(
    server: GatehouseServer, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> Any:
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=10,
    )
    return response.json()


def _signed_up(server: GatehouseServer, username: str) -> str:
    """Register `username` and answer a bearer access token."""
    registered = _post(
        server,
        REGISTER,
        {"input": {"username": username, "email": f"{username}@example.com", "password": STRONG_PASSWORD}},
    )
    assert "errors" not in registered, registered
    login = _post(
        server, LOGIN, {"input": {"login": username, "password": STRONG_PASSWORD, "transport": "BEARER"}}
    )
    access: str = login["data"]["login"]["accessToken"]
    return access


async def _socket_messages(
    server: GatehouseServer, headers: dict[str, str], subscribe: dict[str, Any], protocol: str = PROTOCOL
) -> list[dict[str, Any]]:
    """Open a socket, initialise it, subscribe once and collect the messages until `complete`
    or `error` (or the close)."""
    import websockets

    url = server.url.replace("http://", "ws://") + "/graphql"
    messages: list[dict[str, Any]] = []
    async with websockets.connect(url, subprotocols=[protocol], additional_headers=headers) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        messages.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
        await socket.send(json.dumps({"type": "subscribe", "id": "1", "payload": subscribe}))
        while messages[-1]["type"] not in ("complete", "error"):
            messages.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
    return messages


TICKS = "subscription($count: Int!) { projectTicks(count: $count) }"


@pytest.mark.server
def test_the_sqlite_start_up_migrated_the_modules_table(served: GatehouseServer):
    access = _signed_up(served, "migrated")

    created = _post(served, CREATE, {"name": "on-disk"}, Authorization=f"Bearer {access}")

    assert created["data"]["createProject"]["name"] == "on-disk", created


@pytest.mark.server
async def test_a_modules_subscription_runs_with_the_sockets_identity(served: GatehouseServer):
    access = _signed_up(served, "subscriber")

    messages = await _socket_messages(
        served, {"Authorization": f"Bearer {access}"}, {"query": TICKS, "variables": {"count": 2}}
    )

    assert messages == [
        {"type": "connection_ack"},
        {"type": "next", "id": "1", "payload": {"data": {"projectTicks": "0:subscriber"}}},
        {"type": "next", "id": "1", "payload": {"data": {"projectTicks": "1:subscriber"}}},
        {"type": "complete", "id": "1"},
    ]


@pytest.mark.server
async def test_an_anonymous_subscription_is_unauthenticated(served: GatehouseServer):
    messages = await _socket_messages(served, {}, {"query": TICKS, "variables": {"count": 1}})

    assert messages[0] == {"type": "connection_ack"}
    [refusal] = messages[1]["payload"]["errors"]
    assert messages[1]["payload"]["data"] is None
    assert refusal["extensions"]["code"] == "UNAUTHENTICATED", messages
    assert messages[2] == {"type": "complete", "id": "1"}


@pytest.mark.server
async def test_a_token_without_the_read_scope_cannot_subscribe(served: GatehouseServer):
    access = _signed_up(served, "scoped")
    created = _post(
        served,
        'mutation { createApiToken(name: "ws", scopes: ["projects:write"]) { token } }',
        Authorization=f"Bearer {access}",
    )
    value = created["data"]["createApiToken"]["token"]

    messages = await _socket_messages(
        served, {"Authorization": f"Token {value}"}, {"query": TICKS, "variables": {"count": 1}}
    )

    [refusal] = messages[1]["payload"]["errors"]
    assert refusal["extensions"]["code"] == "FORBIDDEN", messages


@pytest.mark.server
async def test_an_invalid_document_over_the_socket_is_an_error_message(served: GatehouseServer):
    access = _signed_up(served, "typo")

    messages = await _socket_messages(
        served, {"Authorization": f"Bearer {access}"}, {"query": "subscription { nope }"}
    )

    assert messages[-1]["type"] == "error" and messages[-1]["id"] == "1", messages
    assert messages[-1]["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.server
async def test_the_legacy_subprotocol_is_refused(served: GatehouseServer):
    import websockets

    url = served.url.replace("http://", "ws://") + "/graphql"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with websockets.connect(url, subprotocols=["graphql-ws"]) as socket:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406
