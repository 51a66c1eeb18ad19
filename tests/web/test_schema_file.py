"""`GET /graphql/schema.graphql` (contract section 7): the SDL with its directives;
anyone in development, only an admin in production, nobody with SCHEMA_ENDPOINT=off."""

from __future__ import annotations

import httpx

from models import User
from schema.build import build_schema
from tests.helpers import app_client, bearer, bearer_login, create_token, make_persona, make_settings

PATH = "/graphql/schema.graphql"


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
    viewer = await http.get(PATH, params={"viewer": "me"})
    assert viewer.status_code == 400 and viewer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_schema_endpoint_is_read_from_the_environment():
    from core.settings import Settings

    secret = {"SECRET_KEY": "schema-endpoint-test-secret-0123456789abcdef"}
    assert Settings.from_env(secret).schema_endpoint is True
    assert Settings.from_env({**secret, "SCHEMA_ENDPOINT": "off"}).schema_endpoint is False
