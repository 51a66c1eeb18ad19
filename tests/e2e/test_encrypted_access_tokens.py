"""ACCESS_TOKEN_ENCRYPTION=on through the real app: access tokens are compact JWEs, opaque
to clients and to PyJWT, and everything else about them is unchanged: `me`, refresh,
logout (revocation at once), and a SECRET_KEY rotation with PREVIOUS_SECRET_KEYS."""

from __future__ import annotations

import jwt
import pytest

from core.settings import Secret, Settings
from tests.helpers import (
    BEARER_CHALLENGE,
    ME,
    TEST_DATABASE_URL,
    TEST_SECRET,
    Persona,
    app_client,
    bearer,
    bearer_login,
    gql,
    make_persona,
    make_settings,
    register,
)
from tests.helpers.introspection import INACTIVE, ask, introspector
from tests.helpers.sealed import inner_jws, jwe_header

REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(refreshToken: $token) { accessToken refreshToken expiresIn }
}"""
NEXT_SECRET = "the-next-secret-key-long-enough-0123456789abcdef"


@pytest.fixture
def settings() -> Settings:
    return make_settings(access_token_encryption=True)


async def test_a_bearer_login_gives_a_jwe_that_me_accepts(http, alice: Persona):
    payload = await bearer_login(http, "alice")
    token = payload["accessToken"]

    assert token.count(".") == 4  # five segments: the JWE compact form
    header = jwe_header(token)
    assert (header["alg"], header["enc"], header["cty"]) == ("dir", "A256GCM", "JWT")
    assert "zip" not in header
    assert payload["tokenType"] == "Bearer" and 0 < payload["expiresIn"] <= 900
    me = await gql(http, ME, headers=bearer(token), cookies=False)
    assert me.status == 200, me.body
    assert me.data["me"]["id"] == alice.id
    # Inside: the signed access token of an unencrypted deployment, same claims.
    claims = jwt.decode(inner_jws(token), options={"verify_signature": False})
    assert claims["sub"] == alice.id and claims["typ"] == "access"


async def test_pyjwt_cannot_decode_the_token(http, alice: Persona):
    token = (await bearer_login(http, "alice"))["accessToken"]

    with pytest.raises(jwt.DecodeError):
        jwt.decode(token, options={"verify_signature": False})
    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(token)
    # Nothing of the claims shows through: the user's id is not in any segment.
    assert alice.id not in token


async def test_logout_revokes_the_encrypted_token_at_once(http, alice: Persona):
    token = (await bearer_login(http, "alice"))["accessToken"]
    assert (await gql(http, ME, headers=bearer(token), cookies=False)).status == 200

    logout = await gql(http, "mutation { logout }", headers=bearer(token), cookies=False)
    assert logout.data == {"logout": True}, logout.body

    after = await gql(http, ME, headers=bearer(token), cookies=False)
    assert after.status == 401, after.body
    assert after.codes == ["UNAUTHENTICATED"]
    assert after.headers["www-authenticate"] == BEARER_CHALLENGE


async def test_a_refresh_gives_another_jwe(http, alice: Persona):
    first = await bearer_login(http, "alice")
    result = await gql(http, REFRESH, {"token": first["refreshToken"]}, cookies=False)
    assert result.status == 200 and not result.errors, result.body
    refreshed = result.data["refreshToken"]["accessToken"]

    assert refreshed.count(".") == 4 and refreshed != first["accessToken"]
    me = await gql(http, ME, headers=bearer(refreshed), cookies=False)
    assert me.data["me"]["id"] == alice.id


async def test_the_token_register_hands_out_is_encrypted_too(http):
    result = await register(http, "carol")
    assert result.status == 200, result.body
    token = result.data["register"]["accessToken"]
    assert token.count(".") == 4
    assert (await gql(http, ME, headers=bearer(token), cookies=False)).data["me"]["username"] == "carol"


async def test_tokens_keep_opening_during_a_secret_key_rotation(tmp_path, clean_backends):
    """Instances restarted with a new SECRET_KEY and the old one in PREVIOUS_SECRET_KEYS
    still read the tokens issued before; the tokens they issue are sealed under the new key.
    HS256: its signing keys are derived from the same two secrets, so this rotation is one
    of SECRET_KEY alone (the asymmetric keys in the database have their own, rotate-keys)."""
    database_url = TEST_DATABASE_URL or f"sqlite://{tmp_path / 'rotation.db'}"
    before = make_settings(access_token_encryption=True, database_url=database_url, jwt_algorithm="HS256")
    async with app_client(before) as http:
        alice = await make_persona(http, "alice")
        old = (await bearer_login(http, "alice"))["accessToken"]

    rotated = before.with_(secret_key=Secret(NEXT_SECRET), previous_secret_keys=(Secret(TEST_SECRET),))
    async with app_client(rotated) as http:
        me = await gql(http, ME, headers=bearer(old), cookies=False)
        assert me.status == 200, me.body
        assert me.data["me"]["id"] == alice.id
        new = (await bearer_login(http, "alice"))["accessToken"]
        assert jwe_header(new)["kid"] != jwe_header(old)["kid"]
        assert (await gql(http, ME, headers=bearer(new), cookies=False)).status == 200


async def test_introspection_reads_the_encrypted_token_and_feels_its_logout(
    http, admin: Persona, alice: Persona
):
    caller = await introspector(http, admin)
    token = (await bearer_login(http, "alice"))["accessToken"]

    live = await ask(http, caller, token, token_type_hint="access_token")
    assert live.status_code == 200, live.text
    answer = live.json()
    assert answer["active"] is True and answer["sub"] == alice.id
    assert answer["token_type"] == "access_token"
    # The bare JWS inside is not a token this deployment accepts, there either.
    assert (await ask(http, caller, inner_jws(token))).content == INACTIVE

    await gql(http, "mutation { logout }", headers=bearer(token), cookies=False)
    assert (await ask(http, caller, token)).content == INACTIVE


async def test_forward_auth_accepts_the_encrypted_token(http, alice: Persona):
    token = (await bearer_login(http, "alice"))["accessToken"]

    response = await http.get("/auth/verify", headers=bearer(token))
    assert response.status_code == 204, response.text
    assert response.headers["x-auth-user-id"] == alice.id
    assert (await http.get("/auth/verify", headers=bearer(inner_jws(token)))).status_code == 401
