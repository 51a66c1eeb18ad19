"""Using one kind of credential as another: a refresh token as an access token, an access
JWT (or an API token) as a refresh token, a JWT whose `typ` is not `access`."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import ME, bearer, bearer_login, gql
from tests.helpers.forgery import claims_of, sign_as_server

REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"
CREATE_TOKEN = 'mutation { createApiToken(name: "ci") { token } }'


@pytest.fixture
async def tokens(http: httpx.AsyncClient, alice) -> dict[str, str]:
    return await bearer_login(http, "alice")


async def test_a_refresh_token_is_not_an_access_token(http, app, tokens):
    for scheme in ("Bearer", "Token"):
        result = await gql(
            http, ME, headers={"Authorization": f"{scheme} {tokens['refreshToken']}"}, cookies=False
        )
        assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], (scheme, result.body)


async def test_an_access_token_is_not_a_refresh_token(http, app, tokens):
    result = await gql(http, REFRESH, {"t": tokens["accessToken"]}, cookies=False)

    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body
    # The genuine refresh token was not burnt by the attempt.
    ok = await gql(http, REFRESH, {"t": tokens["refreshToken"]}, cookies=False)
    assert ok.status == 200 and ok.data["refreshToken"]["accessToken"], ok.body


async def test_an_api_token_is_not_a_refresh_token(http, app, tokens):
    created = await gql(http, CREATE_TOKEN, headers=bearer(tokens["accessToken"]), cookies=False)
    api_token = created.data["createApiToken"]["token"]

    result = await gql(http, REFRESH, {"t": api_token}, cookies=False)

    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body


@pytest.mark.parametrize("typ", ["refresh", "id", "ACCESS", "", None])
async def test_a_jwt_of_another_type_is_refused(http, app, tokens, typ):
    claims = claims_of(tokens["accessToken"])
    if typ is None:
        claims.pop("typ")
    else:
        claims["typ"] = typ
    forged = sign_as_server(app, claims)

    result = await gql(http, ME, headers=bearer(forged), cookies=False)

    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body
