"""`crit` (RFC 7515 section 4.1.11): header parameters the verifier must understand or
refuse the token. Gatehouse understands no extension, so any `crit` is refused, even
under the server's own signature: a token cannot ask for semantics (`b64: false`, a
private extension) the verifier would silently skip."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import ME, bearer, bearer_login, gql
from tests.helpers.forgery import claims_of, sign_as_server

INVALID_TOKEN = 'Bearer realm="gatehouse", error="invalid_token"'


@pytest.fixture
async def genuine(http: httpx.AsyncClient, alice) -> str:
    return (await bearer_login(http, "alice"))["accessToken"]


async def test_without_crit_the_same_token_is_accepted(http, app, genuine):
    forged = sign_as_server(app, claims_of(genuine), ext="ignored")  # an unknown, non-critical parameter
    assert (await gql(http, ME, headers=bearer(forged), cookies=False)).data["me"]["username"] == "alice"


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["ext"], "ext": "must-understand"},
        {"crit": ["exp"]},
        {"crit": []},
        {"crit": "ext", "ext": 1},
    ],
    ids=["private-extension", "registered-name", "empty-list", "not-a-list"],
)
async def test_a_critical_header_is_refused(http, app, genuine, extra):
    forged = sign_as_server(app, claims_of(genuine), **extra)
    result = await gql(http, ME, headers=bearer(forged), cookies=False)
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == INVALID_TOKEN
