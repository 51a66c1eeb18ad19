"""A scoped API token doing more than its scopes allow.

The attack: a token created with no scopes (or with scopes unrelated to credentials) ends
every credential of the account through `logout(everywhere: true)`, although the README
says such a token can only revoke itself. The matrix below holds every root field, for
every scope set, to the README's scope table; a second test holds the README's table to
the schema.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth.permissions import HasScope
from core.settings import Settings
from models import Credential, CredentialKind
from schema.build import build_schema
from tests.helpers import (
    ALL_SCOPES,
    ME,
    Persona,
    bearer_login,
    create_token,
    gql,
    jwt_headers,
    make_persona,
    make_settings,
    token,
)

ROOT = Path(__file__).resolve().parents[2]
LOGOUT_EVERYWHERE = "mutation { logout(everywhere: true) }"
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"

# The README's scope table, as the contract a client reads: field -> scope needed by an
# API token (None: any token, even one without scopes). `logout` alone ends only the token.
DOCUMENTED: dict[str, str | None] = {
    "me": None,
    "viewer": None,
    "user": "users:read",
    "users": "users:read",
    "myCredentials": "credentials:read",
    "logout": None,
    "logout(everywhere)": "credentials:write",
    "changePassword": "credentials:write",
    "createApiToken": "credentials:write",
    "revokeCredential": "credentials:write",
    "grantRole": "users:write",
    "revokeRole": "users:write",
    "setUserActive": "users:write",
    "register": None,
    "login": None,
    "refreshToken": None,
    "reauthenticate": "no API token",  # NO_TOKEN
    "requestEmailVerification": None,
    "verifyEmail": None,
    "requestPasswordReset": None,
    "resetPassword": None,
    "requestEmailChange": "credentials:write",
    "confirmEmailChange": None,
    "deleteAccount": "credentials:write",
    # Section 10: no provider is configured here, so each answers BAD_USER_INPUT past its checks.
    "beginExternalLogin": None,
    "loginWithIdToken": None,
    "linkExternalIdentity": "credentials:write",
}
# No API token may use the field, whatever its scopes (`reauthenticate`: tokens are exempt
# from step-up and are no password oracle, docs/SECURITY.md): FORBIDDEN for every scope set.
NO_TOKEN = "no API token"
SCOPE_SETS: list[list[str]] = [[], *([s] for s in ALL_SCOPES), list(ALL_SCOPES)]


async def test_a_token_without_scopes_cannot_log_out_everywhere(http: httpx.AsyncClient, alice: Persona):
    session = jwt_headers(await bearer_login(http, "alice"))
    bare = (await create_token(http, session, []))["token"]
    live_before = await Credential.filter(user_id=alice.id, revoked_at__isnull=True).count()

    result = await gql(http, LOGOUT_EVERYWHERE, headers=token(bare), cookies=False)

    assert result.status == 403 and result.codes == ["FORBIDDEN"], result.body
    assert "credentials:write" in result.errors[0]["message"]
    # Nothing was revoked: the token itself and every other credential still work.
    assert await Credential.filter(user_id=alice.id, revoked_at__isnull=True).count() == live_before
    for headers in (session, token(bare)):
        me = await gql(http, ME, headers=headers, cookies=False)
        assert me.status == 200 and me.data["me"]["id"] == alice.id, me.body


@pytest.mark.parametrize("scopes", [["users:read"], ["users:write"], ["credentials:read"]])
async def test_tokens_with_other_scopes_cannot_log_out_everywhere(
    http: httpx.AsyncClient, alice: Persona, scopes: list[str]
):
    session = jwt_headers(await bearer_login(http, "alice"))
    scoped = (await create_token(http, session, scopes))["token"]

    result = await gql(http, LOGOUT_EVERYWHERE, headers=token(scoped), cookies=False)

    assert result.codes == ["FORBIDDEN"], result.body
    assert (await gql(http, ME, headers=session, cookies=False)).data["me"]["id"] == alice.id


async def test_plain_logout_still_revokes_the_token_itself(http: httpx.AsyncClient, alice: Persona):
    session = jwt_headers(await bearer_login(http, "alice"))
    bare = (await create_token(http, session, []))["token"]

    result = await gql(http, "mutation { logout }", headers=token(bare), cookies=False)

    assert result.data == {"logout": True}, result.body
    assert (await gql(http, ME, headers=token(bare), cookies=False)).status == 401
    assert (await gql(http, ME, headers=session, cookies=False)).data["me"]["id"] == alice.id


async def test_a_token_with_credentials_write_logs_out_everywhere(http: httpx.AsyncClient, alice: Persona):
    session = jwt_headers(await bearer_login(http, "alice"))
    writer = (await create_token(http, session, ["credentials:write"]))["token"]

    result = await gql(http, LOGOUT_EVERYWHERE, headers=token(writer), cookies=False)

    assert result.data == {"logout": True}, result.body
    assert await Credential.filter(user_id=alice.id, revoked_at__isnull=True).count() == 0
    assert (await gql(http, ME, headers=session, cookies=False)).status == 401


# -- the matrix --------------------------------------------------------------------------


@dataclass
class World:
    """An admin (so that only scopes decide), a second user, and a way to get fresh tokens."""

    http: httpx.AsyncClient
    admin: Persona
    other: Persona
    mint: Callable[[list[str]], Awaitable[str]]


Call = Callable[[World, dict[str, str], int], Awaitable[Any]]


def _login_vars(login: str) -> dict[str, Any]:
    return {"input": {"login": login, "password": "not the password", "transport": "BEARER"}}


Variables = Callable[[World, int], dict[str, Any]]


def _call(query: str, variables: Variables | None = None, *, cookies: bool = False) -> Call:
    """A `Call` sending `query` with the token's headers, without the client's cookie jar
    unless `cookies`; `variables`, when given, from the world and the scope set's number."""

    async def call(w: World, h: dict[str, str], n: int) -> Any:
        return await gql(w.http, query, variables(w, n) if variables else None, h, cookies=cookies)

    return call


# Each call is harmless when allowed (an unknown id, a wrong password, a no-op role change)
# so that the outcome tells the permission decision alone. `n` numbers the scope sets.
CALLS: dict[str, Call] = {
    "me": _call("{ me { id email } }"),
    "viewer": _call('{ viewer { can(field: "Query.users") } }'),
    "user": _call("query($id: ID!) { user(id: $id) { id email } }", lambda w, n: {"id": w.admin.id}),
    "users": _call("{ users(first: 1) { totalCount } }"),
    "myCredentials": _call("{ myCredentials { id } }"),
    "logout": _call("mutation { logout }"),
    "logout(everywhere)": _call(LOGOUT_EVERYWHERE),
    "changePassword": _call('mutation { changePassword(currentPassword: "wrong one", newPassword: "x") }'),
    "createApiToken": _call('mutation { createApiToken(name: "m", scopes: []) { token } }'),
    "revokeCredential": _call(
        "mutation($id: ID!) { revokeCredential(id: $id) }", lambda w, n: {"id": NO_SUCH_ID}
    ),
    "grantRole": _call(
        'mutation($u: ID!) { grantRole(userId: $u, role: "admin") { id } }', lambda w, n: {"u": w.admin.id}
    ),
    "revokeRole": _call(
        'mutation($u: ID!) { revokeRole(userId: $u, role: "none") { id } }', lambda w, n: {"u": w.other.id}
    ),
    "setUserActive": _call(
        "mutation($u: ID!) { setUserActive(userId: $u, active: true) { id } }",
        lambda w, n: {"u": w.other.id},
        cookies=True,
    ),
    "register": _call(
        'mutation { register(input: {username: "x", email: "bad", password: "p"}) { user { id } } }'
    ),
    "login": _call(
        "mutation($input: LoginInput!) { login(input: $input) { user { id } } }",
        lambda w, n: _login_vars(f"nobody{n}"),
    ),
    "refreshToken": _call('mutation { refreshToken(refreshToken: "gtr_unknown") { accessToken } }'),
    "reauthenticate": _call('mutation { reauthenticate(password: "not the password") }'),
    # Section 11: unknown tokens, an unknown address, wrong current passwords.
    "requestEmailVerification": _call("mutation { requestEmailVerification }"),
    "verifyEmail": _call('mutation { verifyEmail(token: "unknown") }'),
    "requestPasswordReset": _call(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        lambda w, n: {"e": f"nobody{n}@example.com"},
    ),
    "resetPassword": _call('mutation { resetPassword(token: "unknown", newPassword: "x") }'),
    "requestEmailChange": _call(
        'mutation { requestEmailChange(newEmail: "new@example.com", currentPassword: "wrong one") }'
    ),
    "confirmEmailChange": _call('mutation { confirmEmailChange(token: "unknown") }'),
    "deleteAccount": _call('mutation { deleteAccount(currentPassword: "wrong one") }'),
    "beginExternalLogin": _call('mutation { beginExternalLogin(provider: "none") { url } }'),
    "loginWithIdToken": _call(
        'mutation { loginWithIdToken(provider: "none", idToken: "x.y.z") { user { id } } }'
    ),
    "linkExternalIdentity": _call('mutation { linkExternalIdentity(provider: "none") { url } }'),
}


@pytest.fixture
def settings() -> Settings:
    # The matrix registers and signs in far more than a client would: only scopes decide here.
    return make_settings(register_limit_per_ip="1000/minute", login_limit_per_ip="1000/minute")


@pytest.fixture
async def world(http: httpx.AsyncClient) -> World:
    admin = await make_persona(http, "matrix_admin")
    from models import User

    await User.filter(id=admin.id).update(roles=["admin"])
    other = await make_persona(http, "matrix_other")

    async def mint(scopes: list[str]) -> str:
        # A fresh full-rights credential each time: `logout(everywhere)` ends the previous one.
        creator = jwt_headers(await bearer_login(http, admin.username))
        return str((await create_token(http, creator, scopes))["token"])

    return World(http, admin, other, mint)


def _root_fields() -> dict[str, list[HasScope]]:
    """Every root field of the served schema, with the scope checks it carries."""
    schema = build_schema(make_settings())
    found: dict[str, list[HasScope]] = {}
    for type_name in ("Query", "Mutation"):
        definition = schema.get_type_by_name(type_name)
        for field in getattr(definition, "fields", None) or []:
            name = schema.config.name_converter.get_graphql_name(field)
            found[name] = [
                permission
                for extension in field.extensions
                for permission in getattr(extension, "permissions", [])
                if isinstance(permission, HasScope)
            ]
    return found


def test_the_matrix_covers_every_root_field():
    assert set(CALLS) == set(DOCUMENTED)
    assert set(_root_fields()) == {k for k in DOCUMENTED if "(" not in k}


@pytest.mark.parametrize("field", list(DOCUMENTED))
async def test_every_root_field_allows_exactly_the_documented_scopes(world: World, field: str):
    needed = DOCUMENTED[field]
    for n, scopes in enumerate(SCOPE_SETS):
        value = await world.mint(scopes)
        result = await CALLS[field](world, token(value), n)
        allowed = needed is None or needed in scopes
        if allowed:
            # Only the scope check is under test: past it, each call answers what its field
            # does with these arguments (data, or an input error), pinned by that field's
            # own tests, so any non-5xx answer without FORBIDDEN is right here.
            assert "FORBIDDEN" not in result.codes, (field, scopes, result.body)
            assert result.status < 500, (field, scopes, result.body)
        else:
            assert result.codes == ["FORBIDDEN"], (field, scopes, result.body)
            assert result.status == 403, (field, scopes, result.body)
            # A refused call changed nothing: the token, and the admin's others, still live.
            live = await Credential.filter(
                user_id=world.admin.id, kind=CredentialKind.API_TOKEN, revoked_at__isnull=True
            ).count()
            assert live >= 1
            assert (await gql(world.http, ME, headers=token(value), cookies=False)).status == 200


def _readme_scope_table() -> dict[str, set[str]]:
    """The README's **Scopes** bullet as {scope: root fields named with it}."""
    text = (ROOT / "README.md").read_text()
    bullet = text.split("- **Scopes**", 1)[1].split("\n- ", 1)[0]
    table: dict[str, set[str]] = {}
    for match in re.finditer(r"`([a-z]+:[a-z]+)`\s+\(([^()]*)\)", bullet):
        table[match.group(1)] = set(re.findall(r"`(\w+)`", match.group(2)))
    return table


def test_the_readme_scope_table_matches_the_code():
    from_code: dict[str, set[str]] = {}
    for name, checks in _root_fields().items():
        for check in checks:
            from_code.setdefault(check.scope, set()).add(name)
    # Checked in the service rather than by a directive: `logout(everywhere: true)`.
    from_code["credentials:write"].add("logout")
    readme = {scope: fields & set(DOCUMENTED) for scope, fields in _readme_scope_table().items()}
    assert readme == from_code
    documented: dict[str, set[str]] = {}
    for field, scope in DOCUMENTED.items():
        if scope is not None and scope != NO_TOKEN:
            documented.setdefault(scope, set()).add(field.split("(")[0])
    assert documented == from_code
