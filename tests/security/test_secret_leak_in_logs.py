"""Secrets leaking into logs (where operators, log shippers and attackers read them).

The audit log writes one structured record per security event, with the user id, the
client IP and the user agent; no log line at any level, from any library, contains a
password, an access or refresh token, an API token or a session cookie value used here.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from models import User
from tests.helpers import LOGIN, REGISTER, STRONG_PASSWORD, bearer, gql, login_variables

UA = "AuditProbe/1.0 (security test)"
IP = "203.0.113.44"
CLIENT = {"User-Agent": UA, "X-Forwarded-For": IP}
WRONG_PASSWORD = "not-the-password-but-still-secret"
NEW_PASSWORD = "freshly chosen passphrase 9001"
ADMIN_PASSWORD = "quiet orchard lantern meridian"


def audit_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == "gatehouse.audit"]  # type: ignore[attr-defined]


def single(records: list[dict[str, Any]], event: str) -> dict[str, Any]:
    found = [r for r in records if r["event"] == event]
    assert len(found) == 1, (event, found)
    return found[0]


async def call(http: httpx.AsyncClient, query: str, variables=None, headers=None):
    result = await gql(http, query, variables, headers={**CLIENT, **(headers or {})}, cookies=False)
    assert result.status == 200 and not result.errors, result.body
    return result


async def test_security_events_are_audited_without_secrets(http: httpx.AsyncClient, caplog):
    caplog.set_level(logging.DEBUG)  # everything, from every library
    secrets: list[str] = [STRONG_PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, ADMIN_PASSWORD]

    # An admin, set up directly (its own events are not under test).
    admin = await gql(
        http,
        REGISTER,
        {
            "input": {
                "username": "warden",
                "email": "warden@example.com",
                "password": ADMIN_PASSWORD,
                "transport": "BEARER",
            }
        },
        cookies=False,
    )
    admin_id = admin.data["register"]["user"]["id"]
    await User.filter(id=admin_id).update(roles=["admin"])
    admin_token = admin.data["register"]["accessToken"]
    secrets += [admin_token, admin.data["register"]["refreshToken"]]
    caplog.clear()

    # register
    registered = await call(
        http,
        REGISTER,
        {
            "input": {
                "username": "alice",
                "email": "alice@example.com",
                "password": STRONG_PASSWORD,
                "transport": "BEARER",
            }
        },
    )
    alice_id = registered.data["register"]["user"]["id"]
    access, refresh = registered.data["register"]["accessToken"], registered.data["register"]["refreshToken"]
    secrets += [access, refresh]

    # login success (cookie) and failure
    cookie_login = await call(http, LOGIN, login_variables("alice", STRONG_PASSWORD, "COOKIE"))
    session = cookie_login.cookies["session"]
    secrets.append(session)
    failed = await gql(http, LOGIN, login_variables("alice", WRONG_PASSWORD), headers=CLIENT, cookies=False)
    assert failed.status == 401

    # refresh rotation, API token creation and revocation
    rotated = await call(
        http,
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }",
        {"t": refresh},
    )
    secrets += [rotated.data["refreshToken"]["accessToken"], rotated.data["refreshToken"]["refreshToken"]]
    created = await call(
        http,
        'mutation { createApiToken(name: "probe") { token credential { id } } }',
        headers=bearer(access),
    )
    api_token = created.data["createApiToken"]["token"]
    secrets.append(api_token)
    await call(
        http,
        "mutation($id: ID!) { revokeCredential(id: $id) }",
        {"id": created.data["createApiToken"]["credential"]["id"]},
        headers=bearer(access),
    )

    # role change by the admin
    for mutation in ("grantRole", "revokeRole"):
        await call(
            http,
            f'mutation($u: ID!) {{ {mutation}(userId: $u, role: "auditor") {{ id }} }}',
            {"u": alice_id},
            headers=bearer(admin_token),
        )

    # password change and logout (cookie session)
    await call(
        http,
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
        {"c": STRONG_PASSWORD, "n": NEW_PASSWORD},
        headers={"Cookie": f"session={session}"},
    )
    await call(http, "mutation { logout }", headers={"Cookie": f"session={session}"})

    records = audit_records(caplog)
    for event in (
        "register",
        "login_success",
        "create_api_token",
        "revoke_credential",
        "role_grant",
        "role_revoke",
        "password_change",
        "logout",
    ):
        record = single(records, event)
        assert record["user_id"] == alice_id, record
        assert record["ip"] == IP and record["user_agent"] == UA, record
    failure = single(records, "login_failure")
    assert failure["ip"] == IP and failure["user_agent"] == UA
    assert single(records, "role_grant")["by"] == admin_id
    assert single(records, "role_grant")["role"] == "auditor"

    text = caplog.text + "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert len(secrets) == len(set(secrets)) and all(len(s) >= 20 for s in secrets)
    leaked = [s[:6] + "..." for s in secrets if s in text]
    assert not leaked, f"secrets found in the logs: {leaked}"


async def test_rejected_credentials_leave_no_trace_of_their_value(http: httpx.AsyncClient, alice, caplog):
    caplog.set_level(logging.DEBUG)
    probes = [
        "gtr_" + "Q" * 43,  # a refresh token guess
        "gth_" + "R" * 43,  # an API token guess
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcm9iZSJ9.c2lnbmF0dXJlLXByb2Jl",  # a JWT
    ]
    await gql(
        http,
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
        {"t": probes[0]},
        cookies=False,
    )
    await gql(http, "{ me { id } }", headers={"Authorization": f"Token {probes[1]}"}, cookies=False)
    await gql(http, "{ me { id } }", headers={"Authorization": f"Bearer {probes[2]}"}, cookies=False)
    await gql(http, "{ me { id } }", headers={"Cookie": "session=" + "S" * 43}, cookies=False)

    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for probe in [*probes, "S" * 43]:
        assert probe not in text
