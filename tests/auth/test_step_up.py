"""Step-up through the real app (contract section 12): every credential's `auth_time` and
`amr`, `@requiresFreshAuth` answering `INSUFFICIENT_AUTH` (403, `maxAge`) once the
sign-in is older, `reauthenticate` by password renewing it, and `@isVerified` with
`User.emailVerified`. The fields come from a schema module (tests/auth/fresh_module.py).
Time is moved with time-machine, never slept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine

from core.settings import Settings
from models import Credential, User
from tests.helpers import (
    STRONG_PASSWORD,
    Persona,
    basic,
    bearer_login,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    make_settings,
    token,
)

MODULE = "tests.auth.fresh_module"
MAX_AGE = 300
T0 = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
FRESH = "query { freshSecret }"
SIGN_IN = "query { signIn { authTime amr credentialKind } }"
REAUTH = "mutation($p: String) { reauthenticate(password: $p) }"


@pytest.fixture
def settings() -> Settings:
    return make_settings(schema_modules=(MODULE,))


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


async def ask(http: httpx.AsyncClient, query: str, headers: dict[str, str] | None, **variables: Any):
    cookies = headers is None  # no headers: the client's cookie jar (a session)
    return await gql(http, query, variables or None, headers=headers, cookies=cookies)


def assert_stale(result) -> None:
    assert result.status == 403, result.body
    assert result.codes == ["INSUFFICIENT_AUTH"]
    assert result.errors[0]["extensions"]["maxAge"] == MAX_AGE
    assert result.data == {"freshSecret": None}


def assert_fresh(result) -> None:
    assert result.status == 200 and not result.errors, result.body
    assert result.data == {"freshSecret": "fresh"}


async def sign_in_as(http: httpx.AsyncClient, who: Persona, how: str) -> dict[str, str] | None:
    """Sign in now: `None` means the cookie jar holds the session."""
    if how == "session":
        await cookie_login(http, who.username)
        return None
    return jwt_headers(await bearer_login(http, who.username))


@pytest.mark.parametrize("how", ["session", "jwt"])
async def test_a_sign_in_is_fresh_until_max_age_then_insufficient(http, alice, clock, how):
    headers = await sign_in_as(http, alice, how)
    clock.shift(timedelta(seconds=MAX_AGE))
    assert_fresh(await ask(http, FRESH, headers))
    clock.shift(timedelta(seconds=1))
    assert_stale(await ask(http, FRESH, headers))


@pytest.mark.parametrize("how", ["session", "jwt"])
async def test_the_identity_carries_the_sign_in(http, alice, clock, how):
    headers = await sign_in_as(http, alice, how)
    clock.shift(timedelta(seconds=42))
    result = await ask(http, SIGN_IN, headers)
    assert result.data == {
        "signIn": {
            "authTime": T0.isoformat(),
            "amr": ["pwd"],
            "credentialKind": "SESSION" if how == "session" else "REFRESH",
        }
    }
    row = await Credential.filter(user_id=alice.id).order_by("-created_at").first()
    assert row is not None and row.kind == ("SESSION" if how == "session" else "REFRESH")
    assert row.auth_time == T0 and row.amr == ["pwd"]


async def test_register_records_a_password_sign_in(http, clock):
    from tests.helpers import register

    result = await register(http, "carol")
    assert result.status == 200, result.body
    row = await Credential.get(user_id=result.data["register"]["user"]["id"])
    assert (row.auth_time, row.amr) == (T0, ["pwd"])


async def test_an_access_token_carries_its_family_s_auth_time_across_refreshes(http, alice, clock):
    first = await bearer_login(http, alice.username)
    clock.shift(timedelta(seconds=200))
    result = await gql(
        http,
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }",
        {"t": first["refreshToken"]},
        cookies=False,
    )
    assert result.status == 200, result.body
    refreshed = jwt_headers(result.data["refreshToken"])
    assert (await ask(http, SIGN_IN, refreshed)).data["signIn"]["authTime"] == T0.isoformat()
    clock.shift(timedelta(seconds=MAX_AGE - 199))
    # The access token is 101 seconds old, its family's sign-in 301: stale.
    assert_stale(await ask(http, FRESH, refreshed))


@pytest.mark.parametrize("how", ["session", "jwt"])
async def test_reauthenticate_renews_the_current_credential(http, alice, clock, how):
    headers = await sign_in_as(http, alice, how)
    clock.shift(timedelta(seconds=MAX_AGE + 1))
    assert_stale(await ask(http, FRESH, headers))
    renewed = await ask(http, REAUTH, headers, p=alice.password)
    assert renewed.status == 200 and renewed.data == {"reauthenticate": True}, renewed.body
    assert_fresh(await ask(http, FRESH, headers))
    assert (await ask(http, SIGN_IN, headers)).data["signIn"]["authTime"] == (
        T0 + timedelta(seconds=MAX_AGE + 1)
    ).isoformat()
    clock.shift(timedelta(seconds=MAX_AGE + 1))
    assert_stale(await ask(http, FRESH, headers))


async def test_reauthenticate_renews_only_the_current_credential(http, alice, clock):
    one = jwt_headers(await bearer_login(http, alice.username))
    two = jwt_headers(await bearer_login(http, alice.username))
    clock.shift(timedelta(seconds=MAX_AGE + 1))
    assert (await ask(http, REAUTH, one, p=alice.password)).data == {"reauthenticate": True}
    assert_fresh(await ask(http, FRESH, one))
    assert_stale(await ask(http, FRESH, two))


async def test_the_rest_of_the_operation_runs_renewed(http, alice, clock):
    headers = jwt_headers(await bearer_login(http, alice.username))
    clock.shift(timedelta(seconds=MAX_AGE + 1))
    stale = await ask(http, "mutation { freshWrite }", headers)
    assert stale.codes == ["INSUFFICIENT_AUTH"] and stale.status == 403
    result = await ask(
        http, "mutation($p: String) { reauthenticate(password: $p) freshWrite }", headers, p=alice.password
    )
    assert result.status == 200 and not result.errors, result.body
    assert result.data == {"reauthenticate": True, "freshWrite": True}


async def test_a_stale_field_beside_data_answers_200(http, alice, clock):
    headers = jwt_headers(await bearer_login(http, alice.username))
    clock.shift(timedelta(seconds=MAX_AGE + 1))
    result = await ask(http, "query { me { username } freshSecret }", headers)
    assert result.status == 200
    assert result.codes == ["INSUFFICIENT_AUTH"]
    assert result.data == {"me": {"username": alice.username}, "freshSecret": None}


async def test_a_wrong_password_is_unauthenticated_like_a_failed_login_and_renews_nothing(http, alice, clock):
    headers = jwt_headers(await bearer_login(http, alice.username))
    clock.shift(timedelta(seconds=MAX_AGE + 1))
    result = await ask(http, REAUTH, headers, p="not the password at all")
    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body
    assert_stale(await ask(http, FRESH, headers))
    over_long = await ask(http, REAUTH, headers, p="x" * 10_000)
    assert over_long.codes == ["UNAUTHENTICATED"]


async def test_wrong_passwords_count_against_the_login_limits(http, alice, clock):
    headers = jwt_headers(await bearer_login(http, alice.username))
    codes = [(await ask(http, REAUTH, headers, p=f"wrong guess {n}")).codes for n in range(6)]
    assert codes[:5] == [["UNAUTHENTICATED"]] * 5
    assert codes[5] == ["RATE_LIMITED"]
    # The account is limited for `login` too: one budget for every password guess.
    login = await gql(
        http,
        "mutation($i: LoginInput!) { login(input: $i) { user { id } } }",
        {"i": {"login": alice.username, "password": STRONG_PASSWORD, "transport": "BEARER"}},
        cookies=False,
    )
    assert login.codes == ["RATE_LIMITED"]


async def test_a_right_password_clears_the_account_s_failures(http, alice, clock):
    headers = jwt_headers(await bearer_login(http, alice.username))
    for n in range(4):
        assert (await ask(http, REAUTH, headers, p=f"wrong guess {n}")).codes == ["UNAUTHENTICATED"]
    assert (await ask(http, REAUTH, headers, p=alice.password)).data == {"reauthenticate": True}
    for n in range(4):
        assert (await ask(http, REAUTH, headers, p=f"wrong again {n}")).codes == ["UNAUTHENTICATED"]


async def test_one_reauthenticate_per_operation(http, alice, clock):
    headers = jwt_headers(await bearer_login(http, alice.username))
    result = await ask(
        http,
        "mutation($p: String) { a: reauthenticate(password: $p) b: reauthenticate(password: $p) }",
        headers,
        p="x",
    )
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"] and "at most one of" in result.errors[0]["message"]
    assert "reauthenticate" in result.errors[0]["message"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [('code: "123456"', "code"), ('passkey: {id: "x"}', "passkey"), ('password: "x", code: "1"', "code")],
)
async def test_codes_and_passkeys_are_not_available_yet(http, alice, clock, arguments, field):
    headers = jwt_headers(await bearer_login(http, alice.username))
    result = await ask(http, f"mutation {{ reauthenticate({arguments}) }}", headers)
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "not available yet" in result.errors[0]["extensions"]["fields"][field].lower()


@pytest.mark.parametrize(
    "query", ["mutation { reauthenticate }", 'mutation { reauthenticate(password: "") }']
)
async def test_a_missing_password_is_bad_user_input(http, alice, clock, query):
    headers = jwt_headers(await bearer_login(http, alice.username))
    result = await ask(http, query, headers)
    assert result.codes == ["BAD_USER_INPUT"]
    assert "password" in result.errors[0]["extensions"]["fields"]


async def test_anonymous_is_unauthenticated(http, clock):
    for query in (FRESH, 'mutation { reauthenticate(password: "x") }'):
        result = await gql(http, query, cookies=False)
        assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Token gth_" + "A" * 43},
        basic("alice", "wrong password here"),
    ],
    ids=["bad-jwt", "unknown-token", "bad-basic"],
)
async def test_a_bad_credential_never_reaches_the_fields(http, alice, clock, headers):
    for query in (FRESH, REAUTH):
        result = await gql(http, query, {"p": STRONG_PASSWORD}, headers=headers, cookies=False)
        assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body


async def test_an_expired_or_revoked_credential_never_reaches_the_fields(http, alice, clock):
    expired = jwt_headers(await bearer_login(http, alice.username))
    clock.shift(timedelta(hours=1))  # past ACCESS_TOKEN_TTL
    assert (await ask(http, REAUTH, expired, p=alice.password)).codes == ["UNAUTHENTICATED"]
    revoked = jwt_headers(await bearer_login(http, alice.username))
    assert (await ask(http, "mutation { logout }", revoked)).data == {"logout": True}
    for query in (FRESH, REAUTH):
        result = await ask(http, query, revoked, p=alice.password)
        assert result.status == 401 and result.codes == ["UNAUTHENTICATED"]


async def test_basic_is_always_fresh_and_reauthenticate_checks_its_password(http, alice, clock):
    headers = basic(alice.username, alice.password)
    assert (await ask(http, SIGN_IN, headers)).data == {
        "signIn": {"authTime": T0.isoformat(), "amr": ["pwd"], "credentialKind": None}
    }
    clock.shift(timedelta(days=30))
    assert_fresh(await ask(http, FRESH, headers))
    assert (await ask(http, REAUTH, headers, p=alice.password)).data == {"reauthenticate": True}
    assert (await ask(http, REAUTH, headers, p="not the password at all")).codes == ["UNAUTHENTICATED"]


async def test_api_tokens_are_exempt_and_cannot_reauthenticate(http, alice, clock):
    session = jwt_headers(await bearer_login(http, alice.username))
    created = await create_token(http, session, scopes=[])
    headers = token(created["token"])
    row = await Credential.get(id=created["credential"]["id"])
    assert (row.auth_time, row.amr) == (T0, ["pwd"])  # the sign-in of the credential that made it
    assert (await ask(http, SIGN_IN, headers)).data["signIn"]["credentialKind"] == "API_TOKEN"
    clock.shift(timedelta(days=30))
    assert_fresh(await ask(http, FRESH, headers))
    result = await ask(http, REAUTH, headers, p=alice.password)
    assert result.status == 403 and result.codes == ["FORBIDDEN"], result.body
    # Refused before any password is read: a token is no password oracle.
    for n in range(6):
        assert (await ask(http, REAUTH, headers, p=f"guess {n}")).codes == ["FORBIDDEN"]


async def test_a_row_without_auth_time_is_stale_until_reauthenticated(http, alice, clock):
    headers = jwt_headers(await bearer_login(http, alice.username))
    await Credential.filter(user_id=alice.id).update(auth_time=None, amr=[])
    await http_app_identity_cache(http).invalidate_user(alice.id)
    assert_stale(await ask(http, FRESH, headers))
    assert (await ask(http, REAUTH, headers, p=alice.password)).data == {"reauthenticate": True}
    assert_fresh(await ask(http, FRESH, headers))


def http_app_identity_cache(http: httpx.AsyncClient):
    app = http._transport.app  # type: ignore[attr-defined]
    return app.state.backend.identity_cache


VERIFIED = "query { verifiedSecret me { emailVerified } }"


async def test_is_verified_and_email_verified(http, alice, clock):
    headers = jwt_headers(await bearer_login(http, alice.username))
    result = await ask(http, VERIFIED, headers)
    assert result.codes == ["FORBIDDEN"] and result.status == 200
    assert result.data == {"verifiedSecret": None, "me": {"emailVerified": False}}
    await User.filter(id=alice.id).update(email_verified_at=T0)
    await http_app_identity_cache(http).invalidate_user(alice.id)
    result = await ask(http, VERIFIED, headers)
    assert result.status == 200 and not result.errors, result.body
    assert result.data == {"verifiedSecret": "verified", "me": {"emailVerified": True}}


async def test_is_verified_is_unauthenticated_for_anonymous(http, clock):
    result = await gql(http, "query { verifiedSecret }", cookies=False)
    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"]


async def test_a_credential_revoked_meanwhile_is_unauthenticated_and_renews_nothing(http, alice, clock):
    from core.client import ClientInfo
    from core.errors import Unauthenticated
    from services import accounts

    backend = http._transport.app.state.backend  # type: ignore[attr-defined]
    tokens = await bearer_login(http, alice.username)
    client = ClientInfo(ip="198.51.100.9", is_https=True, user_agent="pytest")
    identity = await backend.bearer.read_token(tokens["accessToken"], "Bearer", client)
    assert identity is not None and identity.credential_kind == "REFRESH"
    await Credential.filter(id=identity.credential_id).update(revoked_at=T0)
    clock.shift(timedelta(seconds=10))
    with pytest.raises(Unauthenticated):
        await accounts.reauthenticate(
            backend.hasher, backend.limiter, backend.identity_cache, identity, alice.password, client=client
        )
    row = await Credential.get(id=identity.credential_id)
    assert row.auth_time == T0


async def test_a_wrong_password_keeps_the_session(http, alice, clock):
    from tests.helpers import set_cookie_headers

    await cookie_login(http, alice.username)
    result = await ask(http, REAUTH, None, p="not the password at all")
    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"]
    assert "Basic" not in result.headers.get("www-authenticate", "")  # never a browser dialog
    response = await http.post("/graphql", json={"query": REAUTH, "variables": {"p": "still not it, no"}})
    assert response.status_code == 401 and set_cookie_headers(response) == []  # the cookie stays
    me = await ask(http, "query { me { username } }", None)
    assert me.data == {"me": {"username": alice.username}}
