"""Bad credentials in the Authorization header stop the request; a stale cookie never does."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest
import time_machine

from auth.strategy.jwt import JWTStrategy
from core.clock import utcnow
from core.settings import ALL_SCHEMES
from models import User
from tests.helpers import (
    BASIC_CHALLENGE,
    BEARER_CHALLENGE,
    LOGIN,
    ME,
    REGISTER,
    STRONG_PASSWORD,
    TOKEN_CHALLENGE,
    Persona,
    app_client,
    bearer,
    bearer_login,
    clears_cookie,
    cookie_header,
    cookie_login,
    gql,
    make_settings,
    session_cookie_value,
    set_cookie_headers,
)
from tests.helpers.forgery import fixed_key_ring, server_signer


def _assert_rejected(result: Any, challenge: str) -> None:
    assert result.status == 401, result.body
    assert result.data is None, result.body
    assert result.codes == ["UNAUTHENTICATED"], result.body
    assert result.headers["www-authenticate"] == challenge
    assert result.headers["cache-control"] == "no-store"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unpadded(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


BAD_HEADERS = [
    ("Bearer garbage", BEARER_CHALLENGE),
    ("Bearer a.b.c", BEARER_CHALLENGE),
    ("bearer garbage", BEARER_CHALLENGE),
    ("Bearer", BEARER_CHALLENGE),
    ("Bearer    ", BEARER_CHALLENGE),
    ("Bearer " + "x" * 10 * 1024, BEARER_CHALLENGE),
    ("Bearer gth_wrong", BEARER_CHALLENGE),
    ("Token gth_wrong", TOKEN_CHALLENGE),
    ("Token abc", TOKEN_CHALLENGE),
    ("Token " + "gth_" + "A" * 42, TOKEN_CHALLENGE),  # one character short
    ("Token " + "gth_" + "A" * 44, TOKEN_CHALLENGE),  # one character long
    ("Token " + "gtx_" + "A" * 43, TOKEN_CHALLENGE),  # wrong prefix
    ("Token " + "gth_" + "A" * 43, TOKEN_CHALLENGE),  # well formed, unknown
    ("Token", TOKEN_CHALLENGE),
    ("Digest username=alice", BEARER_CHALLENGE),
    ("garbage", BEARER_CHALLENGE),
    ("Basic " + _b64("alice:wrong password entirely"), BASIC_CHALLENGE),
    ("Basic " + _b64("nobody:" + STRONG_PASSWORD), BASIC_CHALLENGE),
    ("Basic %%%not-base64%%%", BASIC_CHALLENGE),
    ("Basic " + _b64("alice" + STRONG_PASSWORD), BASIC_CHALLENGE),  # no colon
    ("Basic " + _b64(":" + STRONG_PASSWORD), BASIC_CHALLENGE),  # empty login
    ("Basic " + _b64("alice:"), BASIC_CHALLENGE),  # empty password
    ("Basic " + _b64(":"), BASIC_CHALLENGE),
    ("Basic " + base64.b64encode(b"alice:\xff\xfe").decode(), BASIC_CHALLENGE),  # not UTF-8
    ("Basic", BASIC_CHALLENGE),
    ("Basic " + "QUJD" * 2600, BASIC_CHALLENGE),  # 10 KB
]


@pytest.mark.parametrize(("header", "challenge"), BAD_HEADERS, ids=[h[:24] for h, _ in BAD_HEADERS])
async def test_bad_authorization_headers_stop_the_request(http, alice: Persona, header: str, challenge: str):
    result = await gql(http, ME, headers={"Authorization": header}, cookies=False)
    _assert_rejected(result, challenge)
    if not header.lower().startswith("basic"):
        assert "basic" not in result.headers["www-authenticate"].lower()


async def test_nothing_executes_behind_a_bad_header(http):
    variables = {"input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}}
    result = await gql(http, REGISTER, variables, headers={"Authorization": "Bearer nope"}, cookies=False)
    _assert_rejected(result, BEARER_CHALLENGE)
    assert set_cookie_headers(result) == []
    assert await User.all().count() == 0


async def test_missing_credentials_never_ask_for_basic(http):
    result = await gql(http, "query { myCredentials { id } }")
    assert result.status == 401
    assert "basic" not in result.headers["www-authenticate"].lower()


async def test_expired_jwt_is_rejected(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    headers = bearer(tokens["accessToken"])
    assert (await gql(http, ME, headers=headers, cookies=False)).data["me"]["id"] == alice.id

    with time_machine.travel(utcnow() + timedelta(seconds=tokens["expiresIn"] + 11), tick=False):
        result = await gql(http, ME, headers=headers, cookies=False)
    _assert_rejected(result, BEARER_CHALLENGE)


async def test_jwt_just_before_expiry_still_works(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    with time_machine.travel(utcnow() + timedelta(seconds=tokens["expiresIn"] - 5), tick=False):
        result = await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)
    assert result.data["me"]["id"] == alice.id


async def test_tampered_jwt_claims_are_rejected(http, alice: Persona, bob: Persona):
    tokens = await bearer_login(http, "alice")
    header, payload, signature = tokens["accessToken"].split(".")
    claims = json.loads(_unpadded(payload))
    claims["sub"] = bob.id
    forged = f"{header}.{_segment(claims)}.{signature}"
    _assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False), BEARER_CHALLENGE)


async def test_tampered_jwt_signature_is_rejected(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    header, payload, signature = tokens["accessToken"].split(".")
    raw = bytearray(_unpadded(signature))
    raw[0] ^= 0x01
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"
    _assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False), BEARER_CHALLENGE)


async def test_unsigned_jwt_is_rejected(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    header, payload, _ = tokens["accessToken"].split(".")
    unsigned_header = json.loads(_unpadded(header)) | {"alg": "none"}
    forged = f"{_segment(unsigned_header)}.{payload}."
    _assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False), BEARER_CHALLENGE)


async def test_jwt_signed_with_another_key_is_rejected(http, app, alice: Persona):
    tokens = await bearer_login(http, "alice")
    claims = pyjwt.decode(tokens["accessToken"], options={"verify_signature": False})
    # Another key of the same algorithm, presenting itself under the server's kid.
    other = fixed_key_ring(make_settings().jwt_algorithm).signer
    headers = {"kid": server_signer(app).kid}
    forged = pyjwt.encode(claims, other.key, algorithm=other.algorithm, headers=headers)
    _assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False), BEARER_CHALLENGE)


async def test_jwt_of_a_deleted_user_is_rejected(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    await User.filter(id=alice.id).delete()
    _assert_rejected(
        await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False), BEARER_CHALLENGE
    )


async def test_jwt_of_a_deactivated_user_is_rejected(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    # Straight in the table, without the service that also revokes credentials.
    await User.filter(id=alice.id).update(is_active=False)
    _assert_rejected(
        await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False), BEARER_CHALLENGE
    )


async def test_jwt_naming_an_unknown_family_is_rejected(http, app, alice: Persona):
    forged, _ = app.state.backend.bearer.jwt.issue(alice.id, str(uuid.uuid4()))
    _assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False), BEARER_CHALLENGE)


async def test_jwt_of_another_users_family_is_rejected(http, app, alice: Persona, bob: Persona):
    bob_tokens = await bearer_login(http, "bob")
    family = pyjwt.decode(bob_tokens["accessToken"], options={"verify_signature": False})["sid"]
    forged, _ = app.state.backend.bearer.jwt.issue(alice.id, family)
    _assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False), BEARER_CHALLENGE)


async def test_refresh_token_is_not_an_access_token(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    _assert_rejected(
        await gql(http, ME, headers=bearer(tokens["refreshToken"]), cookies=False), BEARER_CHALLENGE
    )


async def test_authorization_header_wins_over_the_cookie(http, alice: Persona, bob: Persona):
    await cookie_login(http, "alice")
    bob_tokens = await bearer_login(http, "bob")

    result = await gql(http, ME, headers=bearer(bob_tokens["accessToken"]))
    assert result.data["me"]["id"] == bob.id

    rejected = await gql(http, ME, headers={"Authorization": "Bearer garbage"})
    _assert_rejected(rejected, BEARER_CHALLENGE)

    assert (await gql(http, ME)).data["me"]["id"] == alice.id


STALE_COOKIES = ["A" * 43, "not-a-session", "", "x" * 5000]


@pytest.mark.parametrize("stale", STALE_COOKIES, ids=["unknown", "malformed", "empty", "huge"])
async def test_stale_cookie_is_anonymous_and_cleared(http, stale: str):
    result = await gql(http, ME, headers=cookie_header(stale), cookies=False)
    assert result.status == 200
    assert result.body == {"data": {"me": None}}
    if stale:
        assert clears_cookie(result)


async def test_revoked_session_cookie_is_anonymous_and_cleared(http, alice: Persona):
    value, _ = await cookie_login(http, "alice")
    logout = await gql(http, "mutation { logout }")
    assert logout.data == {"logout": True}

    result = await gql(http, ME, headers=cookie_header(value), cookies=False)
    assert result.body == {"data": {"me": None}}
    assert clears_cookie(result)


async def test_stale_cookie_never_blocks_login_or_register(http, alice: Persona):
    stale = cookie_header("A" * 43)
    login = await gql(
        http, LOGIN, {"input": {"login": "alice", "password": STRONG_PASSWORD}}, headers=stale, cookies=False
    )
    assert login.status == 200, login.body
    new = session_cookie_value(login)
    assert new and new != "A" * 43
    assert not clears_cookie(login)

    register = await gql(
        http,
        REGISTER,
        {"input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}},
        headers=stale,
        cookies=False,
    )
    assert register.status == 200, register.body
    assert session_cookie_value(register) not in (None, "", "A" * 43)


async def test_stale_cookie_on_a_protected_field_is_plain_unauthenticated(http):
    result = await gql(http, "query { myCredentials { id } }", headers=cookie_header("A" * 43), cookies=False)
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert "basic" not in result.headers["www-authenticate"].lower()
    assert clears_cookie(result)


def _without(scheme: str) -> Any:
    return make_settings(auth_schemes=tuple(s for s in ALL_SCHEMES if s != scheme))


async def test_disabled_basic_is_refused_naming_it(clean_backends):
    async with app_client(_without("basic")) as client:
        result = await gql(client, ME, headers={"Authorization": "Basic " + _b64("a:" + STRONG_PASSWORD)})
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert "basic" in result.errors[0]["message"].lower()
    assert "disabled" in result.errors[0]["message"].lower()


async def test_disabled_token_is_refused_naming_it(clean_backends):
    async with app_client(_without("token")) as client:
        result = await gql(client, ME, headers={"Authorization": "Token gth_" + "A" * 43})
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == TOKEN_CHALLENGE
    assert "token" in result.errors[0]["message"].lower()


async def test_disabled_jwt_is_refused_naming_it(clean_backends):
    settings = _without("jwt")
    forged, _ = JWTStrategy(settings, fixed_key_ring(settings.jwt_algorithm)).issue(
        str(uuid.uuid4()), str(uuid.uuid4())
    )
    async with app_client(settings) as client:
        result = await gql(client, ME, headers=bearer(forged))
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == BEARER_CHALLENGE
    assert "jwt" in result.errors[0]["message"].lower()


async def test_disabled_jwt_refuses_bearer_login(clean_backends):
    async with app_client(_without("jwt")) as client:
        variables = {
            "input": {
                "username": "carol",
                "email": "carol@example.com",
                "password": STRONG_PASSWORD,
                "transport": "BEARER",
            }
        }
        result = await gql(client, REGISTER, variables)
        assert result.data is None, result.body
        assert result.codes == ["BAD_USER_INPUT"]
        assert "jwt" in result.errors[0]["extensions"]["fields"]["transport"].lower()
        assert await User.all().count() == 0


async def test_disabled_session_refuses_cookie_login_and_ignores_cookies(clean_backends):
    async with app_client(_without("session")) as client:
        variables = {
            "input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}
        }
        result = await gql(client, REGISTER, variables)
        assert result.codes == ["BAD_USER_INPUT"], result.body
        assert "session" in result.errors[0]["extensions"]["fields"]["transport"].lower()
        assert set_cookie_headers(result) == []

        stale = await gql(client, ME, headers=cookie_header("A" * 43), cookies=False)
        assert stale.body == {"data": {"me": None}}
        assert clears_cookie(stale)


async def test_refresh_token_is_refused_when_the_jwt_scheme_is_disabled(clean_backends):
    """A refresh would mint an access token the server refuses: it fails and names the scheme."""
    from auth.backend import AuthBackend
    from tests.helpers import app_client, make_settings, register

    async with app_client(make_settings(auth_schemes=("session", "token", "basic"))) as client:
        await register(client, "rita", transport="COOKIE")
        user = await User.get(username_key="rita")
        refresh_token, _ = await AuthBackend.build(make_settings()).bearer.refresh.write_family(
            user, None, None
        )
        refresh = "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }"
        refused = await gql(client, refresh, {"r": refresh_token}, cookies=False)
    assert refused.codes == ["UNAUTHENTICATED"]
    assert "jwt" in refused.errors[0]["message"]
