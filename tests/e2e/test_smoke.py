"""A first end-to-end pass through the ASGI app with its lifespan."""

from tests.helpers import ME, Persona, bearer, bearer_login, gql


async def test_me_is_null_when_anonymous(http):
    result = await gql(http, ME)
    assert result.status == 200
    assert result.data == {"me": None}


async def test_bearer_login_then_me(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    result = await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)
    assert result.data["me"]["username"] == "alice"
