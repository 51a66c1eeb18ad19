"""API tokens: prefixed, hashed at rest, scoped, expiring, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from auth.secrets import API_TOKEN_PATTERN, digest
from auth.strategy.api_token import ApiTokenStrategy, looks_like_api_token
from core.client import ClientInfo
from core.clock import as_utc
from models import Credential, CredentialKind, User
from tests.helpers import raw_row

NO_CLIENT = ClientInfo(ip=None, is_https=False, user_agent=None)

T0 = datetime(2030, 7, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def api_tokens(backend) -> ApiTokenStrategy:
    return backend.api_tokens


async def test_token_is_prefixed_and_random(api_tokens, make_user):
    user = await make_user("alice")
    token, row = await api_tokens.write_token(user, "ci", ["users:read"], 30, "curl/8")
    assert token.startswith("gth_")
    assert API_TOKEN_PATTERN.match(token)
    assert looks_like_api_token(token)
    other, _ = await api_tokens.write_token(user, "ci", ["users:read"], 30, "curl/8")
    assert other != token
    assert row.kind == CredentialKind.API_TOKEN
    assert row.name == "ci"
    assert row.scopes == ["users:read"]
    assert row.user_agent == "curl/8"


async def test_token_is_stored_only_as_a_hash(api_tokens, make_user):
    user = await make_user("alice")
    token, row = await api_tokens.write_token(user, "deploy", ["credentials:read"], 30, None)
    assert row.secret_hash == digest(token)
    stored = await raw_row("credentials", row.id)
    random_part = token.removeprefix("gth_")
    for column, value in stored.items():
        assert token not in str(value), column
        assert random_part not in str(value), column


async def test_read_returns_the_row_with_its_user(api_tokens, make_user):
    user = await make_user("alice")
    token, row = await api_tokens.write_token(user, "ci", ["a", "b"], 30, None)
    found = await api_tokens.read(token)
    assert found is not None and found.id == row.id
    assert found.user.id == user.id
    assert sorted(found.scopes) == ["a", "b"]


async def test_token_works_until_it_expires(api_tokens, make_user):
    user = await make_user("alice")
    with time_machine.travel(T0, tick=False):
        token, row = await api_tokens.write_token(user, "ci", [], 7, None)
    assert as_utc(row.expires_at) == T0 + timedelta(days=7)
    with time_machine.travel(T0 + timedelta(days=7) - timedelta(seconds=1), tick=False):
        assert await api_tokens.read(token) is not None
    with time_machine.travel(T0 + timedelta(days=7), tick=False):
        assert await api_tokens.read(token) is None
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        assert await api_tokens.read(token) is None


async def test_revoked_token_is_refused(api_tokens, make_user):
    user = await make_user("alice")
    token, row = await api_tokens.write_token(user, "ci", [], 30, None)
    await Credential.filter(id=row.id).update(revoked_at=datetime.now(UTC))
    assert await api_tokens.read(token) is None


async def test_token_of_a_deactivated_user_is_refused(api_tokens, make_user):
    user = await make_user("alice")
    token, _ = await api_tokens.write_token(user, "ci", [], 30, None)
    await User.filter(id=user.id).update(is_active=False)
    assert await api_tokens.read(token) is None


async def test_tokens_do_not_idle_out_like_sessions(api_tokens, make_user, settings):
    user = await make_user("alice")
    with time_machine.travel(T0, tick=False):
        token, _ = await api_tokens.write_token(user, "cron", [], 90, None)
    with time_machine.travel(T0 + timedelta(seconds=settings.session_idle_timeout * 10), tick=False):
        assert await api_tokens.read(token) is not None


async def test_use_is_recorded(api_tokens, make_user):
    user = await make_user("alice")
    with time_machine.travel(T0, tick=False):
        token, row = await api_tokens.write_token(user, "ci", [], 30, None)
    assert row.last_used_at is None
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        await api_tokens.read(token)
    assert as_utc((await Credential.get(id=row.id)).last_used_at) == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    "token",
    ["", "gth_", "gth_short", "gtr_" + "a" * 43, "a" * 47, "gth_" + "a" * 42 + "!", "gth_" + "a" * 44],
)
async def test_malformed_tokens_are_refused(api_tokens, token):
    assert await api_tokens.read(token) is None


async def test_unknown_token_is_refused(api_tokens, make_user):
    await make_user("alice")
    assert await api_tokens.read("gth_" + "a" * 43) is None


async def test_a_refresh_token_or_session_id_is_not_an_api_token(api_tokens, backend, make_user):
    user = await make_user("alice")
    refresh_token, _ = await backend.bearer.refresh.write_family(user, None, None)
    session_id, _ = await backend.sessions.write_token(user, NO_CLIENT)
    assert await api_tokens.read(refresh_token) is None
    assert await api_tokens.read(session_id) is None
    assert await api_tokens.read("gth_" + session_id) is None


@pytest.mark.parametrize("value", ["eyJhbGciOiJIUzI1NiJ9.e30.sig", "gtr_abc", "GTH_abc"])
def test_jwts_and_other_values_do_not_look_like_api_tokens(value):
    assert not looks_like_api_token(value)


async def test_expiry_counts_from_the_moment_the_caller_checked(api_tokens, make_user):
    user = await make_user("alice")
    _, row = await api_tokens.write_token(user, "ci", [], 7, None, now=T0)
    assert as_utc(row.expires_at) == T0 + timedelta(days=7)
