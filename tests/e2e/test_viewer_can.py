"""`viewer { can(field:) }` (contract section 7) over HTTP: the app through its whole
request path, then a real `python main.py serve` over a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from graphql import build_schema as build_sdl

from models import User
from tests.helpers import (
    Persona,
    bearer,
    bearer_login,
    create_token,
    gql,
    register,
)
from tests.helpers.processes import GatehouseServer, fresh_server_environment

FIELDS = (
    "Query.me",
    "Query.users",
    "Query.myCredentials",
    "Mutation.grantRole",
    "Mutation.logout",
    "User.email",
)
CAN = (
    "{ viewer { "
    + " ".join(f'{name.replace(".", "_")}: can(field: "{name}")' for name in FIELDS)
    + ' createApiToken: can(field: "Mutation.createApiToken") } }'
)


def answers(body: dict[str, object]) -> dict[str, bool]:
    """`{"Query.users": False, ...}` from a CAN answer."""
    viewer = body["data"]["viewer"]  # type: ignore[index]
    return {key.replace("_", ".", 1): value for key, value in viewer.items()}  # type: ignore[union-attr]


async def test_anonymous_can_only_use_the_public_fields(http: httpx.AsyncClient):
    result = await gql(http, CAN)

    assert result.status == 200 and not result.errors, result.body
    assert answers(result.body) == {
        "Query.me": True,
        "Query.users": False,
        "Query.myCredentials": False,
        "Mutation.grantRole": False,
        "Mutation.logout": False,
        "User.email": False,
        "createApiToken": False,
    }


async def test_a_user_admin_and_tokens_get_their_own_answers(
    http: httpx.AsyncClient, alice: Persona, admin: Persona
):
    user = bearer((await bearer_login(http, "alice"))["accessToken"])
    root = bearer((await bearer_login(http, admin.username))["accessToken"])
    bare = {"Authorization": f"Token {(await create_token(http, root, scopes=[]))['token']}"}
    writer = {"Authorization": f"Token {(await create_token(http, root, scopes=['users:write']))['token']}"}

    as_user = answers((await gql(http, CAN, headers=user, cookies=False)).body)
    as_admin = answers((await gql(http, CAN, headers=root, cookies=False)).body)
    as_bare = answers((await gql(http, CAN, headers=bare, cookies=False)).body)
    as_writer = answers((await gql(http, CAN, headers=writer, cookies=False)).body)

    assert as_user == {**dict.fromkeys(as_user, True), "Query.users": False, "Mutation.grantRole": False}
    assert set(as_admin.values()) == {True}
    assert as_bare == {
        "Query.me": True,
        "Query.users": False,
        "Query.myCredentials": False,
        "Mutation.grantRole": False,
        "Mutation.logout": True,
        "User.email": True,
        "createApiToken": False,
    }
    assert as_writer["Mutation.grantRole"] is True and as_writer["Query.users"] is False


async def test_a_role_granted_is_felt_on_the_next_request(http: httpx.AsyncClient, alice: Persona):
    user = bearer((await bearer_login(http, "alice"))["accessToken"])
    before = await gql(http, '{ viewer { can(field: "Query.users") } }', headers=user, cookies=False)
    await User.filter(id=alice.id).update(roles=["admin"])
    fresh = bearer((await bearer_login(http, "alice"))["accessToken"])
    after = await gql(http, '{ viewer { can(field: "Query.users") } }', headers=fresh, cookies=False)

    assert before.data == {"viewer": {"can": False}}
    assert after.data == {"viewer": {"can": True}}


@pytest.mark.parametrize(
    ("field", "message"),
    [("users", "Type.field"), ("Query.nobody", "no field nobody"), ("Nobody.users", "no type Nobody")],
)
async def test_a_malformed_or_unknown_field_is_bad_user_input(
    http: httpx.AsyncClient, field: str, message: str
):
    result = await gql(http, "query Can($field: String!) { viewer { can(field: $field) } }", {"field": field})

    assert result.status == 200
    assert result.codes == ["BAD_USER_INPUT"]
    assert message in result.errors[0]["extensions"]["fields"]["field"]
    assert result.errors[0]["path"] == ["viewer", "can"]
    assert result.data is None


# --- A real server ---------------------------------------------------------------------


@pytest.fixture
def server(tmp_path) -> Iterator[GatehouseServer]:  # type: ignore[no-untyped-def]
    env = fresh_server_environment(tmp_path)
    with GatehouseServer(env) as running:
        yield running


@pytest.mark.server
async def test_can_and_viewer_me_agree_over_a_real_socket(server: GatehouseServer):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        registered = await register(client, "grace")
        user = bearer(registered.data["register"]["accessToken"])
        anonymous = answers((await gql(client, CAN, cookies=False)).body)
        signed_in = answers((await gql(client, CAN, headers=user, cookies=False)).body)
        schema = build_sdl((await client.get("/graphql/schema.graphql?viewer=me", headers=user)).text)

    assert anonymous["Query.me"] is True and anonymous["Query.myCredentials"] is False
    assert signed_in["Query.myCredentials"] is True and signed_in["Mutation.grantRole"] is False
    listed = {
        f"{name}.{field}" for name in ("Query", "Mutation", "User") for field in schema.type_map[name].fields
    }  # type: ignore[attr-defined]
    for coordinate in FIELDS:
        assert signed_in[coordinate] is (coordinate in listed), coordinate
