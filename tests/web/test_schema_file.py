"""`GET /graphql/schema.graphql` (contract section 7): the SDL with its directives;
anyone in development, only an admin in production, nobody with SCHEMA_ENDPOINT=off.
`?viewer=me`: the caller's own schema; anyone in development, any signed-in caller in
production."""

from __future__ import annotations

import httpx
from graphql import GraphQLSchema, print_schema, validate_schema
from graphql import build_schema as build_sdl

from models import User
from schema.build import build_schema
from schema.viewer import viewer_schemas
from tests.helpers import (
    Persona,
    app_client,
    bearer,
    bearer_login,
    cookie_login,
    create_token,
    make_persona,
    make_settings,
)
from tests.helpers.account_mail import ACCOUNT_MAIL_PUBLIC
from tests.helpers.federation import FEDERATION_PUBLIC

PATH = "/graphql/schema.graphql"
MINE = f"{PATH}?viewer=me"


async def test_development_serves_the_sdl_with_directives_and_rules_to_anyone(http: httpx.AsyncClient):
    response = await http.get(PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.text == build_schema(make_settings()).as_str()
    assert 'users(first: Int = 20, after: String): UserConnection! @hasRole(role: "admin")' in response.text
    assert 'Requires: @hasRole(role: "admin"), @hasScope(scope: "users:read")' in response.text


async def test_production_serves_it_to_an_admin_only(clean_backends):
    async with app_client(make_settings(app_env="production")) as client:
        anonymous = await client.get(PATH)
        await make_persona(client, "olga")
        await make_persona(client, "root")
        await User.filter(username_key="root").update(roles=["admin"])
        user = bearer((await bearer_login(client, "olga"))["accessToken"])
        admin = bearer((await bearer_login(client, "root"))["accessToken"])
        as_user = await client.get(PATH, headers=user)
        as_admin = await client.get(PATH, headers=admin)
        narrow = (await create_token(client, admin, scopes=["credentials:read"]))["token"]
        as_narrow_token = await client.get(PATH, headers={"Authorization": f"Token {narrow}"})
        bad_token = await client.get(PATH, headers=bearer("not-a-token"))

    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert as_user.status_code == 403 and as_user.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert as_narrow_token.status_code == 403, "an admin's token without users:read reads no schema"
    assert bad_token.status_code == 401
    assert as_admin.status_code == 200 and "@hasRole" in as_admin.text
    assert "type Query" not in anonymous.text + as_user.text + as_narrow_token.text


async def test_schema_endpoint_off_serves_nothing(clean_backends):
    async with app_client(make_settings(schema_endpoint=False)) as client:
        response = await client.get(PATH)
    assert response.status_code == 404
    assert "type Query" not in response.text


async def test_other_methods_and_parameters_get_json_errors(http: httpx.AsyncClient):
    posted = await http.post(PATH, content=b"")
    assert posted.status_code == 405 and posted.headers["allow"] == "GET"
    assert posted.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    posted_viewer = await http.post(PATH, params={"viewer": "me"}, content=b"")
    assert posted_viewer.status_code == 405
    for query in ("viewer=admin", "viewer=", "viewer=me&viewer=me", "viewer=me&x=1", "x=1", "viewer=ME"):
        refused = await http.get(f"{PATH}?{query}")
        assert refused.status_code == 400, query
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST", query
        assert "type Query" not in refused.text


def test_schema_endpoint_is_read_from_the_environment():
    from core.settings import Settings

    secret = {"SECRET_KEY": "schema-endpoint-test-secret-0123456789abcdef"}
    assert Settings.from_env(secret).schema_endpoint is True
    assert Settings.from_env({**secret, "SCHEMA_ENDPOINT": "off"}).schema_endpoint is False


# --- ?viewer=me -----------------------------------------------------------------------


def built(response: httpx.Response) -> GraphQLSchema:
    """The answer's SDL built back by graphql-core, checked valid."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    schema = build_sdl(response.text)
    assert validate_schema(schema) == [], response.text
    return schema


def fields(schema: GraphQLSchema, type_name: str) -> set[str]:
    return set(schema.type_map[type_name].fields) if type_name in schema.type_map else set()  # type: ignore[attr-defined]


async def as_admin(client: httpx.AsyncClient, username: str = "root") -> dict[str, str]:
    await make_persona(client, username)
    await User.filter(username_key=username).update(roles=["admin"])
    return bearer((await bearer_login(client, username))["accessToken"])


async def test_development_gives_an_anonymous_caller_the_public_fields(http: httpx.AsyncClient):
    response = await http.get(MINE)
    schema = built(response)

    assert fields(schema, "Query") == {"me", "viewer"}
    assert fields(schema, "Mutation") == {
        "register",
        "login",
        "refreshToken",
        *ACCOUNT_MAIL_PUBLIC,
        *FEDERATION_PUBLIC,
    }
    assert "email" not in fields(schema, "User")
    assert "@hasRole" not in response.text and "Credential" not in schema.type_map
    assert response.text == viewer_schemas(build_schema(make_settings())).anonymous.sdl


async def test_development_gives_a_user_their_own_schema(http: httpx.AsyncClient, alice: Persona):
    user = bearer((await bearer_login(http, "alice"))["accessToken"])
    response = await http.get(MINE, headers=user)
    schema = built(response)

    assert fields(schema, "Query") == {"me", "viewer", "user", "myCredentials"}
    assert {"logout", "createApiToken", "changePassword"} <= fields(schema, "Mutation")
    assert not {"grantRole", "revokeRole", "setUserActive"} & fields(schema, "Mutation")
    assert "users" not in fields(schema, "Query") and "UserConnection" not in schema.type_map
    assert "@isAuthenticated" in response.text and "@hasRole" not in response.text


async def test_the_session_cookie_works_as_graphiql_sends_it(http: httpx.AsyncClient, alice: Persona):
    await cookie_login(http, "alice")
    response = await http.get(MINE, headers={"Sec-Fetch-Site": "same-origin"})

    assert "myCredentials" in fields(built(response), "Query")


async def test_an_admin_with_full_rights_gets_the_whole_schema(http: httpx.AsyncClient):
    admin = await as_admin(http)
    mine = await http.get(MINE, headers=admin)
    full = await http.get(PATH)

    assert mine.text == full.text, "byte for byte"
    assert print_schema(built(mine)) == print_schema(build_sdl(full.text))


async def test_an_api_token_gets_what_its_scopes_allow(http: httpx.AsyncClient):
    admin = await as_admin(http)
    bare = (await create_token(http, admin, scopes=[]))["token"]
    reader = (await create_token(http, admin, scopes=["users:read"]))["token"]

    with_no_scope = built(await http.get(MINE, headers={"Authorization": f"Token {bare}"}))
    with_users_read = built(await http.get(MINE, headers={"Authorization": f"Token {reader}"}))

    assert fields(with_no_scope, "Query") == {"me", "viewer"}
    assert fields(with_no_scope, "Mutation") >= {"logout"}, "needs only a signed-in user"
    assert "createApiToken" not in fields(with_no_scope, "Mutation")
    assert fields(with_users_read, "Query") == {"me", "viewer", "user", "users"}
    assert "grantRole" not in fields(with_users_read, "Mutation")


async def test_a_bad_credential_is_refused_not_reduced(http: httpx.AsyncClient):
    response = await http.get(MINE, headers=bearer("not-a-token"))

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_production_serves_viewer_me_to_every_caller(clean_backends):
    async with app_client(make_settings(app_env="production"), base_url="https://testserver") as client:
        anonymous = await client.get(MINE)
        await make_persona(client, "olga")
        user = bearer((await bearer_login(client, "olga"))["accessToken"])
        admin = await as_admin(client)
        bare = (await create_token(client, user, scopes=[]))["token"]
        reader = (await create_token(client, admin, scopes=["users:read"]))["token"]
        as_user = await client.get(MINE, headers=user)
        as_bare_token = await client.get(MINE, headers={"Authorization": f"Token {bare}"})
        as_reader_token = await client.get(MINE, headers={"Authorization": f"Token {reader}"})
        as_admin_mine = await client.get(MINE, headers=admin)
        full_as_user = await client.get(PATH, headers=user)
        bad_token = await client.get(MINE, headers=bearer("not-a-token"))

    assert anonymous.status_code == 200
    assert fields(built(anonymous), "Query") == {"me", "viewer"}
    assert fields(built(anonymous), "Mutation") == {
        "register",
        "login",
        "refreshToken",
        *ACCOUNT_MAIL_PUBLIC,
        *FEDERATION_PUBLIC,
    }
    assert fields(built(as_user), "Query") == {"me", "viewer", "user", "myCredentials"}
    assert fields(built(as_bare_token), "Query") == {"me", "viewer"}
    assert fields(built(as_reader_token), "Query") == {"me", "viewer", "user", "users"}
    assert "setUserActive" not in fields(built(as_reader_token), "Mutation")
    assert "setUserActive" in fields(built(as_admin_mine), "Mutation")
    assert full_as_user.status_code == 403, "the full schema stays the admin's"
    assert bad_token.status_code == 401


async def test_schema_endpoint_off_serves_no_viewer_schema_either(clean_backends):
    async with app_client(make_settings(schema_endpoint=False)) as client:
        response = await client.get(MINE)
    assert response.status_code == 404
    assert "type Query" not in response.text


def test_the_viewer_schemas_are_made_at_start_up_even_with_the_endpoint_off(monkeypatch):
    # `viewer.can` needs them on a request; made there, the first caller would wait for them.
    from app.factory import create_app
    from schema import viewer

    app = create_app(make_settings(schema_endpoint=False))

    def on_a_request(*args, **kwargs):
        raise AssertionError("ViewerSchemas made after start-up")

    monkeypatch.setattr(viewer, "ViewerSchemas", on_a_request)
    assert viewer_schemas(app.state.schema).anonymous.fields
