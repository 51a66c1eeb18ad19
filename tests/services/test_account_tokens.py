"""Migration 0004 (`account_tokens`) and the mailed-token store: digests only at rest, one
purpose each, single use under races, expiry, a newer token voiding the older; on SQLite
(a file database, migrated as at start-up) and on PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from core.clock import utcnow
from core.db import tortoise_config
from models import AccountToken, TokenPurpose, User
from services import account_tokens
from tests.helpers import TEST_DATABASE_URL

COLUMNS = {"id", "user_id", "purpose", "token_hash", "email", "created_at", "expires_at", "used_at"}


async def _columns(sqlite: bool) -> set[str]:
    connection = Tortoise.get_connection("default")
    if sqlite:
        rows = await connection.execute_query_dict("PRAGMA table_info(account_tokens)")
        return {row["name"] for row in rows}
    rows = await connection.execute_query_dict(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'account_tokens' "
        "AND table_schema = current_schema()"
    )
    return {row["column_name"] for row in rows}


@pytest.fixture
async def database(tmp_path: Path, clean_backends: None):
    """A database migrated from 0003 to the newest, with one user."""
    url = TEST_DATABASE_URL or f"sqlite://{tmp_path / 'tokens.db'}"
    sqlite = url.startswith("sqlite://")
    config = tortoise_config(url)
    try:
        await migrate(config=config, app_labels=["models"], target="models.0003_signing_keys")
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        assert await _columns(sqlite) == set()
        await Tortoise.close_connections()
        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        assert await _columns(sqlite) == COLUMNS
        user = await User.create(
            username="alice",
            username_key="alice",
            email="Alice@example.com",
            email_key="alice@example.com",
            password_hash="x",
            roles=[],
        )
        yield user
    finally:
        await Tortoise.close_connections()
        if not sqlite:  # leave the test database as the other tests expect it: newest
            await migrate(config=config)
            await Tortoise.close_connections()


async def test_only_the_digest_is_stored(database):
    token = await account_tokens.issue(str(database.id), TokenPurpose.RESET_PASSWORD, database.email)
    [row] = await AccountToken.all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(row) and "example.com" not in repr(row)
    assert row.email == "Alice@example.com"
    assert timedelta(minutes=29) < row.expires_at - utcnow() <= timedelta(minutes=30)


@pytest.mark.parametrize(
    ("purpose", "lifetime"),
    [
        (TokenPurpose.VERIFY_EMAIL, timedelta(hours=24)),
        (TokenPurpose.RESET_PASSWORD, timedelta(minutes=30)),
        (TokenPurpose.CHANGE_EMAIL, timedelta(hours=1)),
    ],
)
async def test_a_token_lives_its_purpose_s_lifetime(database, purpose, lifetime):
    now = utcnow()
    token = await account_tokens.issue(str(database.id), purpose, database.email, now=now)
    assert await account_tokens.find_live(token, purpose, now=now + lifetime - timedelta(seconds=1))
    assert await account_tokens.find_live(token, purpose, now=now + lifetime) is None
    other = next(p for p in TokenPurpose if p is not purpose)
    assert await account_tokens.find_live(token, other, now=now) is None


async def test_a_token_is_spent_once_even_by_requests_racing(database):
    token = await account_tokens.issue(str(database.id), TokenPurpose.VERIFY_EMAIL, database.email)
    row = await account_tokens.find_live(token, TokenPurpose.VERIFY_EMAIL)
    assert row is not None and row.user.id == database.id
    outcomes = await asyncio.gather(*(account_tokens.spend(row) for _ in range(5)))
    assert outcomes.count(True) == 1
    assert await account_tokens.find_live(token, TokenPurpose.VERIFY_EMAIL) is None


async def test_a_newer_token_voids_the_older_of_the_same_purpose_only(database):
    user_id = str(database.id)
    first = await account_tokens.issue(user_id, TokenPurpose.RESET_PASSWORD, database.email)
    verify = await account_tokens.issue(user_id, TokenPurpose.VERIFY_EMAIL, database.email)
    second = await account_tokens.issue(user_id, TokenPurpose.RESET_PASSWORD, database.email)
    assert await account_tokens.find_live(first, TokenPurpose.RESET_PASSWORD) is None
    assert await account_tokens.find_live(second, TokenPurpose.RESET_PASSWORD) is not None
    assert await account_tokens.find_live(verify, TokenPurpose.VERIFY_EMAIL) is not None
    assert await account_tokens.void(user_id, [TokenPurpose.VERIFY_EMAIL]) == 1
    assert await account_tokens.find_live(verify, TokenPurpose.VERIFY_EMAIL) is None


async def test_requests_racing_for_one_purpose_leave_one_live_token(database):
    # Each request deleted the older tokens, then made its own: two at once each deleted
    # before the other made one, and both links stayed live.
    user_id = str(database.id)
    tokens = await asyncio.gather(
        *(account_tokens.issue(user_id, TokenPurpose.RESET_PASSWORD, database.email) for _ in range(8))
    )
    live = [t for t in tokens if await account_tokens.find_live(t, TokenPurpose.RESET_PASSWORD)]
    assert len(live) == 1
    assert await AccountToken.filter(user_id=user_id, purpose=TokenPurpose.RESET_PASSWORD).count() == 1


@pytest.mark.parametrize("value", ["", "short", "A" * 44, "A" * 42, "é" * 43, "\x00" * 43, "x" * 100_000])
async def test_malformed_tokens_are_refused_before_the_database(database, value):
    assert await account_tokens.find_live(value, TokenPurpose.RESET_PASSWORD) is None


async def test_tokens_go_with_their_user(database):
    await account_tokens.issue(str(database.id), TokenPurpose.CHANGE_EMAIL, "new@example.com")
    await User.filter(id=database.id).delete()
    assert await AccountToken.all().count() == 0
