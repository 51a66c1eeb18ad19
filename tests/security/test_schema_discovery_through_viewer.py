"""Schema discovery in production through the per-viewer schema and `viewer.can`
(contract section 7): introspection is off there, so neither may become a way round it.
`?viewer=me` names only what the caller's own credential could use (an anonymous
caller: the public fields); `viewer.can` answers anyone, but says of a missing field no more than a
query naming it learns from validation."""

from __future__ import annotations

import httpx
import pytest
from graphql import build_schema

from models import User
from tests.helpers import bearer, bearer_login, create_token, gql, make_persona, make_settings
from tests.helpers.contract import CONTRACT_PUBLIC

MINE = "/graphql/schema.graphql?viewer=me"
ADMIN_ONLY = {
    "Query.users",
    "Mutation.grantRole",
    "Mutation.revokeRole",
    "Mutation.setUserActive",
    "UserConnection",
    "UserEdge",
    "@hasRole",
}


def names(sdl: str) -> set[str]:
    """Every type (`User`), field (`User.email`) and directive (`@hasRole`) the SDL defines."""
    schema = build_schema(sdl)
    found = {f"@{directive.name}" for directive in schema.directives}
    for type_name, named_type in schema.type_map.items():
        found.add(type_name)
        found.update(f"{type_name}.{field}" for field in getattr(named_type, "fields", None) or {})
    return found


@pytest.fixture
async def production(open_app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    client: httpx.AsyncClient = await open_app(
        make_settings(app_env="production"), base_url="https://testserver"
    )
    return client


async def test_an_anonymous_caller_gets_only_the_public_fields(production: httpx.AsyncClient):
    response = await production.get(MINE)
    found = names(response.text)

    assert response.status_code == 200
    assert {name for name in found if name.startswith(("Query.", "Mutation."))} == CONTRACT_PUBLIC
    assert found & (ADMIN_ONLY | {"Credential", "@isAuthenticated", "@hasScope"}) == set()


async def test_a_user_learns_nothing_of_the_admin_fields(production: httpx.AsyncClient):
    await make_persona(production, "mallory")
    user = bearer((await bearer_login(production, "mallory"))["accessToken"])
    response = await production.get(MINE, headers=user)

    assert response.status_code == 200
    assert names(response.text) & ADMIN_ONLY == set()
    assert "User.email" in names(response.text), "their own, at least"


async def test_a_scopeless_token_learns_only_what_it_may_call(production: httpx.AsyncClient):
    await make_persona(production, "root")
    await User.filter(username_key="root").update(roles=["admin"])
    admin = bearer((await bearer_login(production, "root"))["accessToken"])
    bare = (await create_token(production, admin, scopes=[]))["token"]
    response = await production.get(MINE, headers={"Authorization": f"Token {bare}"})
    found = names(response.text)

    assert response.status_code == 200
    assert {name for name in found if name.startswith("Query.")} == {"Query.me", "Query.viewer"}
    assert found & (ADMIN_ONLY | {"Query.myCredentials", "Mutation.createApiToken", "Credential"}) == set()


async def test_can_tells_of_a_missing_field_no_more_than_validation(production: httpx.AsyncClient):
    known = await gql(production, '{ viewer { can(field: "Query.users") } }')
    unknown = await gql(production, '{ viewer { can(field: "Query.secrets") } }')
    queried = await gql(production, "{ secrets }")

    assert known.status == 200 and known.data == {"viewer": {"can": False}}
    assert unknown.codes == ["BAD_USER_INPUT"]
    assert queried.codes == ["GRAPHQL_VALIDATION_FAILED"], "the query says as much: no such field"
    assert "Did you mean" not in str(unknown.body) + str(queried.body)


async def test_schema_endpoint_off_serves_no_viewer_schema(open_app):  # type: ignore[no-untyped-def]
    client = await open_app(
        make_settings(app_env="production", schema_endpoint=False), base_url="https://testserver"
    )
    await make_persona(client, "olga")
    user = bearer((await bearer_login(client, "olga"))["accessToken"])

    response = await client.get(MINE, headers=user)

    assert response.status_code == 404
    assert "type Query" not in response.text
