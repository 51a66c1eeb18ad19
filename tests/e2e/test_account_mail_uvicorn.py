"""Account recovery and email over a real server (`python main.py serve`, uvicorn) sending
to a real SMTP server: STARTTLS with AUTH (the server's certificate trusted through
SSL_CERT_FILE, as an operator with a private CA would), the console default a developer
uses, and a mail server that is down (never a 500, never a hang)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import OTHER_PASSWORD, REGISTER, STRONG_PASSWORD, free_port
from tests.helpers.account_mail import (
    CHANGE_PATH,
    CONFIRM_CHANGE,
    DELETE,
    REQUEST_CHANGE,
    REQUEST_RESET,
    RESET,
    RESET_PATH,
    VERIFIED_ME,
    VERIFY,
    VERIFY_PATH,
    mailed_token_after,
)
from tests.helpers.processes import GatehouseServer, fresh_server_environment, wait_for
from tests.helpers.smtp import Mailbox, link_in, self_signed_certificate, server_context

pytestmark = pytest.mark.server

LOGIN = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"


async def _gql(
    client: httpx.AsyncClient, query: str, variables: dict | None = None, token: str | None = None
):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    return response.status_code, response.json()


async def _register(client: httpx.AsyncClient, name: str) -> str:
    status, body = await _gql(
        client,
        REGISTER,
        {
            "input": {
                "username": name,
                "email": f"{name}@example.com",
                "password": STRONG_PASSWORD,
                "transport": "BEARER",
            }
        },
    )
    assert status == 200, body
    return str(body["data"]["register"]["accessToken"])


async def _login(client: httpx.AsyncClient, login: str, password: str) -> tuple[int, dict]:
    return await _gql(client, LOGIN, {"i": {"login": login, "password": password, "transport": "BEARER"}})


@pytest.fixture
def tls_mailbox(tmp_path: Path) -> Iterator[tuple[Mailbox, Path]]:
    cert, key = self_signed_certificate(tmp_path)
    with Mailbox(starttls=server_context(cert, key), login="gatehouse", password="mail-pass:1") as box:
        yield box, cert


@pytest.fixture
def server(tmp_path: Path, tls_mailbox: tuple[Mailbox, Path]) -> Iterator[GatehouseServer]:
    mailbox, cert = tls_mailbox
    port = free_port()
    env = {
        **fresh_server_environment(tmp_path),
        "MAIL_URL": mailbox.url(),
        "MAIL_FROM": "Gatehouse <noreply@example.com>",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SSL_CERT_FILE": str(cert),
    }
    with GatehouseServer(env, port=port) as running:
        yield running


async def test_verification_reset_change_and_deletion_over_starttls(server, tls_mailbox):
    mailbox, _ = tls_mailbox
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        access = await _register(client, "alice")
        [welcome] = await mailbox.wait_for("alice@example.com")
        assert welcome["X-Envelope-Tls"] == "yes" and welcome["X-Envelope-Auth"] == "gatehouse"
        assert welcome["From"] == "Gatehouse <noreply@example.com>"
        assert link_in(welcome, VERIFY_PATH).startswith(f"{server.url}{VERIFY_PATH}?token=")
        token = await mailed_token_after(mailbox, "alice@example.com", VERIFY_PATH, 0)
        assert (await _gql(client, VERIFY, {"t": token}))[1] == {"data": {"verifyEmail": True}}
        assert (await _gql(client, VERIFIED_ME, token=access))[1]["data"]["me"]["emailVerified"] is True

        # Reset: a link for the known address only; the old credential ends.
        for address in ("alice@example.com", "nobody@example.com"):
            assert (await _gql(client, REQUEST_RESET, {"e": address}))[1] == {
                "data": {"requestPasswordReset": True}
            }
        reset = await mailed_token_after(mailbox, "alice@example.com", RESET_PATH, 0)
        status, body = await _gql(client, RESET, {"t": reset, "p": OTHER_PASSWORD})
        assert (status, body) == (200, {"data": {"resetPassword": True}})
        assert (await _gql(client, VERIFIED_ME, token=access))[0] == 401
        status, body = await _login(client, "alice", OTHER_PASSWORD)
        assert status == 200, body
        access = body["data"]["login"]["accessToken"]
        assert mailbox.to("nobody@example.com") == []

        # Email change: the old address is told.
        status, body = await _gql(
            client, REQUEST_CHANGE, {"e": "alice@example.org", "p": OTHER_PASSWORD}, token=access
        )
        assert body == {"data": {"requestEmailChange": True}}, body
        change = await mailed_token_after(mailbox, "alice@example.org", CHANGE_PATH, 0)
        assert (await _gql(client, CONFIRM_CHANGE, {"t": change}))[1] == {
            "data": {"confirmEmailChange": True}
        }
        notices = await mailbox.wait_for("alice@example.com", 3)
        assert any("changed" in m["Subject"] for m in notices)

        # Leaving: the account is gone, its names free again.
        assert (await _gql(client, DELETE, {"p": OTHER_PASSWORD}, token=access))[1] == {
            "data": {"deleteAccount": True}
        }
        assert (await _login(client, "alice", OTHER_PASSWORD))[0] == 401
        await _register(client, "alice")
    log = server.output()
    assert "mail-pass:1" not in log and reset not in log and token not in log


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[GatehouseServer]:
    """A development server with the default MAIL_URL (console)."""
    with GatehouseServer(fresh_server_environment(tmp_path)) as running:
        yield running


@pytest.fixture
def server_without_mail(tmp_path: Path) -> Iterator[GatehouseServer]:
    """A server whose MAIL_URL names a port nobody listens on."""
    env = {**fresh_server_environment(tmp_path), "MAIL_URL": f"smtp://127.0.0.1:{free_port()}"}
    with GatehouseServer(env) as running:
        yield running


async def test_console_mail_puts_the_link_in_the_log_for_a_developer(console_server):
    server = console_server
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        access = await _register(client, "dev")
        pattern = re.compile(rf"{re.escape(server.url)}{VERIFY_PATH}\?token=([A-Za-z0-9_-]+)")
        assert wait_for(lambda: pattern.search(server.output()), timeout=15), server.output()
        token = pattern.search(server.output()).group(1)  # type: ignore[union-attr]
        assert (await _gql(client, VERIFY, {"t": token}))[1] == {"data": {"verifyEmail": True}}
        assert (await _gql(client, VERIFIED_ME, token=access))[1]["data"]["me"]["emailVerified"] is True


async def test_a_mail_server_that_is_down_costs_the_client_nothing(server_without_mail):
    server = server_without_mail
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        await _register(client, "alice")
        started = time.monotonic()
        status, body = await _gql(client, REQUEST_RESET, {"e": "alice@example.com"})
        assert (status, body) == (200, {"data": {"requestPasswordReset": True}})
        assert time.monotonic() - started < 2.0
        assert wait_for(lambda: "mail failed (attempt 1 of 4)" in server.output(), timeout=15), (
            server.output()
        )
        # The server goes on answering while the outbox retries.
        assert (await client.get("/healthz")).status_code == 200
