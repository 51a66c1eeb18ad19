"""Taking over the future admin account: someone registers `ops` (or the operator's email)
before the operator runs `create-admin --username ops`. The command must never promote an
account silently: an existing account is promoted only with `--promote`, matched by its
exact username (never as a login, so an email never matches) and its own email, and the
promotion ends every credential the account had, so the squatter's tokens die."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

import main
from app.factory import create_app
from auth.backend import AuthBackend
from core.errors import BadUserInput
from models import User
from tests.helpers import (
    ME,
    OTHER_PASSWORD,
    REGISTER,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    TEST_SECRET,
    bearer,
    bearer_login,
    create_token,
    gql,
    make_settings,
    token,
)
from tests.helpers import create_admin_with as create_admin

MAIN = Path(main.__file__).resolve()
ADMIN_PASSWORD = "quiet lantern orchard 7 copper"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The database both the app and the command line use (PostgreSQL when configured)."""
    return TEST_DATABASE_URL or f"sqlite://{tmp_path / 'takeover.db'}"


@pytest.fixture
async def application(database_url: str, clean_backends: None) -> AsyncIterator[Starlette]:
    """A running app on `database_url`, kept open while the command line runs beside it."""
    served = create_app(make_settings(database_url=database_url))
    async with served.router.lifespan_context(served):
        yield served


@pytest.fixture
async def client(application: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def cli(database_url: str, *args: str, password: str = ADMIN_PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "BCRYPT_ROUNDS": "4"}
    if TEST_REDIS_URL:
        env["REDIS_URL"] = TEST_REDIS_URL
    return subprocess.run(
        [sys.executable, str(MAIN), "create-admin", *args],
        input=f"{password}\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=MAIN.parent,
        timeout=60,
        check=False,
    )


async def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, database_url, *args)


async def squat(client: httpx.AsyncClient, username: str, email: str) -> dict[str, str]:
    """Register as the squatter; returns headers for a bearer JWT and an API token."""
    result = await gql(
        client,
        REGISTER,
        {"input": {"username": username, "email": email, "password": OTHER_PASSWORD, "transport": "BEARER"}},
        cookies=False,
    )
    assert result.status == 200 and not result.errors, result.body
    jwt = bearer(result.data["register"]["accessToken"])
    api = token((await create_token(client, jwt))["token"])
    return {"jwt": jwt["Authorization"], "api": api["Authorization"]}


async def roles_seen_by(client: httpx.AsyncClient, authorization: str) -> list[str] | int:
    """The roles a credential carries now, or the HTTP status when it no longer works."""
    result = await gql(client, ME, headers={"Authorization": authorization}, cookies=False)
    if result.status != 200:
        return result.status
    roles: list[str] = result.data["me"]["roles"]
    return roles


async def test_create_admin_refuses_a_pre_registered_username(client, database_url):
    squatter = await squat(client, "ops", "squatter@evil.example")

    result = await run_cli(database_url, "--username", "ops", "--email", "ops@corp.example")

    assert result.returncode != 0, result.stdout
    assert "--promote" in result.stderr
    assert "promoted" not in result.stdout and "created" not in result.stdout
    for credential in squatter.values():
        assert await roles_seen_by(client, credential) == []  # still works, still not an admin
    row = await User.get(username_key="ops")
    assert row.roles == [] and row.email == "squatter@evil.example"


async def test_create_admin_refuses_a_pre_registered_email(client, database_url):
    squatter = await squat(client, "someone", "ops@corp.example")

    result = await run_cli(database_url, "--username", "ops", "--email", "ops@corp.example")

    assert result.returncode != 0, result.stdout
    assert "--promote" in result.stderr
    assert await roles_seen_by(client, squatter["jwt"]) == []
    assert not await User.filter(username_key="ops").exists()


async def test_promote_needs_the_accounts_own_email(client, database_url):
    squatter = await squat(client, "ops", "squatter@evil.example")

    result = await run_cli(database_url, "--username", "ops", "--email", "ops@corp.example", "--promote")

    assert result.returncode != 0, result.stdout
    assert "email" in result.stderr
    assert await roles_seen_by(client, squatter["api"]) == []
    assert (await bearer_login(client, "ops", OTHER_PASSWORD))["user"]["roles"] == []  # password kept


async def test_promote_ends_every_credential_the_account_had(client, database_url):
    earlier = await squat(client, "ops", "ops@corp.example")
    session = await gql(
        client,
        "mutation($i: LoginInput!) { login(input: $i) { user { id } } }",
        {"i": {"login": "ops", "password": OTHER_PASSWORD, "transport": "COOKIE"}},
    )
    assert session.status == 200, session.body
    assert (await gql(client, ME)).data["me"]["roles"] == []

    result = await run_cli(database_url, "--username", "OPS", "--email", "OPS@corp.example", "--promote")

    assert result.returncode == 0, result.stderr
    assert "promoted admin ops" in result.stdout
    for credential in earlier.values():
        assert await roles_seen_by(client, credential) == 401
    assert (await gql(client, ME)).data["me"] is None  # the session cookie is dead too
    fresh = await bearer_login(client, "ops", ADMIN_PASSWORD)
    assert fresh["user"]["roles"] == ["admin"]
    refused = await gql(
        client,
        "mutation($i: LoginInput!) { login(input: $i) { user { id } } }",
        {"i": {"login": "ops", "password": OTHER_PASSWORD, "transport": "BEARER"}},
        cookies=False,
    )
    assert refused.status == 401  # the old password is gone


async def test_a_fresh_name_is_created(client, database_url):
    result = await run_cli(database_url, "--username", "ops", "--email", "ops@corp.example")
    assert result.returncode == 0, result.stderr
    assert "created admin ops" in result.stdout
    assert (await bearer_login(client, "ops", ADMIN_PASSWORD))["user"]["roles"] == ["admin"]


async def test_promote_of_a_name_nobody_has_creates_nothing(client, database_url):
    result = await run_cli(database_url, "--username", "ops", "--email", "ops@corp.example", "--promote")
    assert result.returncode != 0, result.stdout
    assert not await User.filter(username_key="ops").exists()


# -- the service, without the command line (both databases) ---------------------------


@pytest.fixture
def backend(application: Starlette) -> AuthBackend:
    """The running app's own backend: its caches see what the service does."""
    found: AuthBackend = application.state.backend
    return found


async def test_an_email_never_matches_the_username(client, backend):
    await squat(client, "ops", "ops@corp.example")
    for promote in (False, True):
        with pytest.raises(BadUserInput):
            await create_admin(
                backend, "ops@corp.example", "ops@corp.example", ADMIN_PASSWORD, promote=promote
            )
    row = await User.get(username_key="ops")
    assert row.roles == []
    assert await User.all().count() == 1


async def test_promote_matches_the_exact_username_only(client, backend):
    await squat(client, "ops", "ops@corp.example")
    for near in ("ops_", "op", " ops", "ops "):
        with pytest.raises(BadUserInput):
            await create_admin(backend, near, "ops@corp.example", ADMIN_PASSWORD, promote=True)
    assert (await User.get(username_key="ops")).roles == []


async def test_refusals_change_nothing(client, backend):
    await squat(client, "ops", "squatter@evil.example")
    before = await User.get(username_key="ops")
    with pytest.raises(BadUserInput) as refused:
        await create_admin(backend, "ops", "ops@corp.example", ADMIN_PASSWORD)
    assert "--promote" in " ".join(refused.value.fields.values())
    with pytest.raises(BadUserInput) as mismatch:
        await create_admin(backend, "ops", "ops@corp.example", ADMIN_PASSWORD, promote=True)
    assert set(mismatch.value.fields) == {"email"}
    after = await User.get(username_key="ops")
    assert (after.password_hash, after.roles, after.is_active) == (before.password_hash, [], True)


async def test_promote_reactivates_and_revokes(client, backend):
    earlier = await squat(client, "ops", "ops@corp.example")
    await User.filter(username_key="ops").update(is_active=False)

    user, created = await create_admin(backend, "ops", "ops@corp.example", ADMIN_PASSWORD, promote=True)

    assert not created
    row = await User.get(id=user.id)
    assert row.is_active and row.roles == ["admin"]
    assert await roles_seen_by(client, earlier["api"]) == 401
    assert await roles_seen_by(client, earlier["jwt"]) == 401


async def test_the_operator_vouches_for_the_address_of_a_created_admin(client, backend):
    """REQUIRE_VERIFIED_EMAIL must not lock out the admin create-admin just made."""
    user, created = await create_admin(backend, "ops", "ops@corp.example", ADMIN_PASSWORD)
    assert created
    assert (await User.get(id=user.id)).email_verified_at is not None


async def test_a_promoted_account_gets_its_address_verified(client, backend):
    await squat(client, "ops", "ops@corp.example")
    assert (await User.get(username_key="ops")).email_verified_at is None
    user, _ = await create_admin(backend, "ops", "ops@corp.example", ADMIN_PASSWORD, promote=True)
    assert (await User.get(id=user.id)).email_verified_at is not None
