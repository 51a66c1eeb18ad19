"""An API token minting tokens that outlive it.

The attack: a one-day token with `credentials:write` (handed to a CI job, say) creates a
366-day token, so the one-day grant lasts a year; or asks for scopes it lacks. A token
may create only tokens inside its own scopes and its own lifetime. Full-rights
credentials (session, JWT, Basic) stand for a password sign-in and are bounded only by
the 1-to-366-day range. Out-of-range or malformed `expiresInDays` is `BAD_USER_INPUT`,
never a 500.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine

from models import Credential, CredentialKind
from tests.helpers import (
    CREATE_TOKEN,
    GRAPHQL,
    Persona,
    basic,
    bearer_login,
    cookie_header,
    cookie_login,
    create_token,
    gql,
    jwt_headers,
    token,
)

T0 = datetime(2031, 6, 1, 9, 0, tzinfo=UTC)


async def _tokens() -> int:
    return await Credential.filter(kind=CredentialKind.API_TOKEN).count()


async def _mint(http: httpx.AsyncClient, headers: dict[str, str], days: int, scopes: list[str] | None = None):
    variables = {"name": "child", "scopes": scopes or [], "days": days}
    return await gql(http, CREATE_TOKEN, variables, headers=headers, cookies=False)


async def test_a_one_day_token_cannot_mint_a_year_long_one(http, alice: Persona):
    with time_machine.travel(T0, tick=False) as clock:
        creator = jwt_headers(await bearer_login(http, "alice"))
        one_day = (await create_token(http, creator, ["credentials:write"], days=1))["token"]
        clock.shift(timedelta(minutes=1))
        before = await _tokens()

        for days in (366, 2, 1):
            result = await _mint(http, token(one_day), days)
            assert result.status == 200 and result.codes == ["BAD_USER_INPUT"], (days, result.body)
            assert "expiresInDays" in result.errors[0]["extensions"]["fields"], result.body
        assert await _tokens() == before


async def test_a_token_mints_tokens_up_to_its_own_expiry(http, alice: Persona):
    with time_machine.travel(T0, tick=False) as clock:
        creator = jwt_headers(await bearer_login(http, "alice"))
        parent = (await create_token(http, creator, ["credentials:write"], days=30))["token"]
        clock.shift(timedelta(hours=1))

        too_long = await _mint(http, token(parent), 30)
        assert too_long.codes == ["BAD_USER_INPUT"], too_long.body
        message = too_long.errors[0]["extensions"]["fields"]["expiresInDays"]
        assert "at most 29 days" in message

        child = await _mint(http, token(parent), 29, ["credentials:write"])
        assert child.status == 200 and not child.errors, child.body
        child_expiry = datetime.fromisoformat(child.data["createApiToken"]["credential"]["expiresAt"])
        assert child_expiry <= T0 + timedelta(days=30)

        # The bound is transitive: the child is bounded by its own expiry in turn.
        clock.shift(timedelta(minutes=1))
        grandchild = await _mint(http, token(child.data["createApiToken"]["token"]), 29)
        assert grandchild.codes == ["BAD_USER_INPUT"], grandchild.body
        ok = await _mint(http, token(child.data["createApiToken"]["token"]), 28)
        assert ok.status == 200 and not ok.errors, ok.body


async def test_the_default_lifetime_from_a_shorter_token_is_refused(http, alice: Persona):
    """Omitted, `expiresInDays` is 90: from a token with fewer days left that is refused,
    never silently shortened; the client asks for a lifetime that fits."""
    with time_machine.travel(T0, tick=False) as clock:
        creator = jwt_headers(await bearer_login(http, "alice"))
        parent = (await create_token(http, creator, ["credentials:write"], days=30))["token"]
        clock.shift(timedelta(hours=1))

        defaulted = await gql(
            http, CREATE_TOKEN, {"name": "child", "scopes": []}, headers=token(parent), cookies=False
        )

        assert defaulted.status == 200 and defaulted.codes == ["BAD_USER_INPUT"], defaulted.body
        assert defaulted.errors[0]["extensions"]["fields"] == {
            "expiresInDays": "A token cannot outlive the token that creates it; use at most 29 days."
        }
        fits = await _mint(http, token(parent), 29)
        assert fits.status == 200 and not fits.errors, fits.body


ME_ID = "query { me { id } }"
CHANGE_PASSWORD = (
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
)


async def test_a_minted_token_outlives_its_creators_revocation(http, alice: Persona):
    """The known residual: a token does not remember which token minted it, so ending the
    creator leaves its children to their own expiry (never after the creator's); logout
    everywhere ends them all."""
    creator = jwt_headers(await bearer_login(http, "alice"))
    parent = (await create_token(http, creator, ["credentials:write"], days=30))["token"]
    child = (await create_token(http, token(parent), [], name="child", days=10))["token"]

    assert (await gql(http, "mutation { logout }", headers=token(parent), cookies=False)).data == {
        "logout": True
    }

    assert (await gql(http, ME_ID, headers=token(parent), cookies=False)).status == 401
    assert (await gql(http, ME_ID, headers=token(child), cookies=False)).status == 200
    everywhere = await gql(http, "mutation { logout(everywhere: true) }", headers=creator, cookies=False)
    assert everywhere.data == {"logout": True}, everywhere.body
    assert (await gql(http, ME_ID, headers=token(child), cookies=False)).status == 401


async def test_a_password_change_keeps_only_the_credential_it_came_with(http, alice: Persona):
    """Made with a minted token, `changePassword` keeps that one token and ends every other
    credential: the token that minted it, its siblings, sessions and refresh tokens."""
    signed_in = jwt_headers(await bearer_login(http, "alice"))
    parent = (await create_token(http, signed_in, ["credentials:write"], days=30))["token"]
    child = (await create_token(http, token(parent), ["credentials:write"], name="child", days=10))["token"]
    sibling = (await create_token(http, token(parent), [], name="sibling", days=10))["token"]

    changed = await gql(
        http,
        CHANGE_PASSWORD,
        {"c": alice.password, "n": alice.password + " anew"},
        headers=token(child),
        cookies=False,
    )

    assert changed.data == {"changePassword": True}, changed.body
    assert (await gql(http, ME_ID, headers=token(child), cookies=False)).status == 200
    for other in (token(parent), token(sibling), signed_in):
        assert (await gql(http, ME_ID, headers=other, cookies=False)).status == 401
    live = await Credential.filter(user_id=alice.id, revoked_at__isnull=True).values_list("name", flat=True)
    assert live == ["child"]


async def test_scopes_and_lifetime_are_both_reported(http, alice: Persona):
    creator = jwt_headers(await bearer_login(http, "alice"))
    parent = (await create_token(http, creator, ["credentials:write"], days=7))["token"]

    result = await _mint(http, token(parent), 366, ["credentials:write", "users:write"])

    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert set(result.errors[0]["extensions"]["fields"]) == {"scopes", "expiresInDays"}


@pytest.mark.parametrize("kind", ["session", "jwt", "basic"])
async def test_full_rights_credentials_may_mint_the_longest_tokens(http, alice: Persona, kind: str):
    if kind == "session":
        value, _ = await cookie_login(http, "alice")
        http.cookies.clear()
        headers = cookie_header(value)
    elif kind == "jwt":
        headers = jwt_headers(await bearer_login(http, "alice"))
    else:
        headers = basic("alice", alice.password)

    result = await _mint(http, headers, 366, ["credentials:write"])

    assert result.status == 200 and not result.errors, result.body


RANGE = {"expiresInDays": "Use 1 to 366 days."}  # the service's range check
NOT_32_BIT = {
    "days": "Variable '$days' has invalid value: Int cannot represent non 32-bit signed integer value."
}
NOT_AN_INT = {"days": "Variable '$days' has invalid value: Int cannot represent non-integer value."}


@pytest.mark.parametrize(
    ("days", "fields"),
    [
        (0, RANGE),
        (-1, RANGE),
        (-(2**31), RANGE),
        (367, RANGE),
        (2**31 - 1, RANGE),
        # GraphQL's `Int` refuses the rest while coercing the variable, on `days`.
        (2**31, NOT_32_BIT),
        (10**30, NOT_32_BIT),
        (1.5, NOT_AN_INT),
        ("5", NOT_AN_INT),
        (True, NOT_AN_INT),
    ],
    ids=["zero", "negative", "min-int", "367", "max-int", "over-int", "huge", "float", "string", "bool"],
)
async def test_out_of_range_expiry_is_bad_input_never_a_500(
    http, alice: Persona, days: Any, fields: dict[str, str]
):
    headers = jwt_headers(await bearer_login(http, "alice"))
    body = {"query": CREATE_TOKEN, "variables": {"name": "x", "scopes": [], "days": days}}

    response = await http.post(
        GRAPHQL, content=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text  # a wrong value: section 5
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": fields}, response.text
    assert await _tokens() == 0


@pytest.mark.parametrize(
    ("literal", "extensions"),
    [
        ("0", {"code": "BAD_USER_INPUT", "fields": RANGE}),
        ("-3", {"code": "BAD_USER_INPUT", "fields": RANGE}),
        ("367", {"code": "BAD_USER_INPUT", "fields": RANGE}),
        # Not an `Int` literal: the document is wrong, refused at validation (section 6).
        ("99999999999", {"code": "GRAPHQL_VALIDATION_FAILED"}),
        ("1e3", {"code": "GRAPHQL_VALIDATION_FAILED"}),
        ('"90"', {"code": "GRAPHQL_VALIDATION_FAILED"}),
    ],
    ids=["zero", "negative", "367", "over-int", "exponent", "string"],
)
async def test_out_of_range_expiry_literals_are_bad_input(
    http, alice: Persona, literal: str, extensions: dict[str, Any]
):
    headers = jwt_headers(await bearer_login(http, "alice"))
    document = f'mutation {{ createApiToken(name: "x", expiresInDays: {literal}) {{ token }} }}'

    result = await gql(http, document, headers=headers, cookies=False)

    assert result.status == 200, result.body
    [error] = result.errors
    assert error["extensions"] == extensions, result.body
    assert await _tokens() == 0
