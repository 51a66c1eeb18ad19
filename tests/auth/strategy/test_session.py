"""Server-side sessions: random ids, digests only, idle and absolute timeouts, revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from auth.secrets import SESSION_ID_PATTERN, digest
from auth.strategy.session import SessionStrategy
from core.client import ClientInfo
from models import Credential, CredentialKind, User
from tests.helpers import raw_row

NO_CLIENT = ClientInfo(ip=None, is_https=False, user_agent=None)

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def sessions(backend) -> SessionStrategy:
    return backend.sessions


async def test_write_then_read(sessions, make_user):
    user = await make_user("alice")
    session_id, row = await sessions.write_token(
        user, ClientInfo(ip="203.0.113.7", is_https=False, user_agent="pytest-agent")
    )
    assert SESSION_ID_PATTERN.match(session_id)
    assert row.kind == CredentialKind.SESSION
    assert row.user_agent == "pytest-agent"
    assert row.ip == "203.0.113.7"
    found = await sessions.read(session_id)
    assert found is not None and found.id == row.id
    assert found.user.id == user.id


async def test_every_login_gets_a_new_random_id(sessions, make_user):
    user = await make_user("alice")
    ids = {(await sessions.write_token(user, NO_CLIENT))[0] for _ in range(5)}
    assert len(ids) == 5


async def test_only_the_digest_is_stored(sessions, make_user):
    user = await make_user("alice")
    session_id, row = await sessions.write_token(user, NO_CLIENT)
    assert row.secret_hash == digest(session_id)
    stored = await raw_row("credentials", row.id)
    assert all(session_id not in str(value) for value in stored.values())


@pytest.mark.parametrize(
    "cookie",
    ["", "short", "x" * 43 + "!", "a" * 44, "gth_" + "a" * 43, "a" * 42, "../../../etc/passwd"],
)
async def test_malformed_ids_are_not_looked_up(sessions, cookie):
    assert await sessions.read(cookie) is None


async def test_unknown_id_is_none(sessions, make_user):
    await make_user("alice")
    assert await sessions.read("A" * 43) is None


async def test_revoked_session_is_none(sessions, make_user):
    user = await make_user("alice")
    session_id, row = await sessions.write_token(user, NO_CLIENT)
    await Credential.filter(id=row.id).update(revoked_at=datetime.now(UTC))
    assert await sessions.read(session_id) is None


async def test_deactivated_user_has_no_session(sessions, make_user):
    user = await make_user("alice")
    session_id, _ = await sessions.write_token(user, NO_CLIENT)
    await User.filter(id=user.id).update(is_active=False)
    assert await sessions.read(session_id) is None


async def test_idle_timeout_slides_with_use(sessions, make_user, settings):
    user = await make_user("alice")
    idle = timedelta(seconds=settings.session_idle_timeout)
    with time_machine.travel(T0, tick=False):
        session_id, _ = await sessions.write_token(user, NO_CLIENT)
    last_use = T0 + idle - timedelta(minutes=1)
    with time_machine.travel(last_use, tick=False):
        assert await sessions.read(session_id) is not None
    with time_machine.travel(last_use + idle - timedelta(minutes=1), tick=False):
        assert await sessions.read(session_id) is not None
    last_use = last_use + idle - timedelta(minutes=1)
    with time_machine.travel(last_use + idle + timedelta(seconds=1), tick=False):
        assert await sessions.read(session_id) is None


async def test_untouched_session_expires_after_the_idle_timeout(sessions, make_user, settings):
    user = await make_user("alice")
    with time_machine.travel(T0, tick=False):
        session_id, _ = await sessions.write_token(user, NO_CLIENT)
    with time_machine.travel(T0 + timedelta(seconds=settings.session_idle_timeout + 1), tick=False):
        assert await sessions.read(session_id) is None


async def test_use_keeps_a_session_alive_until_the_absolute_timeout(sessions, make_user, settings):
    user = await make_user("alice")
    with time_machine.travel(T0, tick=False):
        session_id, _ = await sessions.write_token(user, NO_CLIENT)
    absolute_days = settings.session_absolute_timeout // 86400
    # Used every day: never idle, so only the absolute timeout ends it.
    for day in range(1, absolute_days):
        with time_machine.travel(T0 + timedelta(days=day), tick=False):
            assert await sessions.read(session_id) is not None, f"day {day}"
    with time_machine.travel(T0 + timedelta(seconds=settings.session_absolute_timeout + 1), tick=False):
        assert await sessions.read(session_id) is None


async def test_reads_within_the_write_interval_do_not_write(sessions, make_user, settings):
    user = await make_user("alice")
    with time_machine.travel(T0, tick=False):
        session_id, row = await sessions.write_token(user, NO_CLIENT)
    with time_machine.travel(T0 + timedelta(seconds=settings.last_used_write_interval - 1), tick=False):
        assert await sessions.read(session_id) is not None
    stored = await Credential.get(id=row.id)
    assert stored.last_used_at == T0
    later = T0 + timedelta(seconds=settings.last_used_write_interval + 1)
    with time_machine.travel(later, tick=False):
        assert await sessions.read(session_id) is not None
    stored = await Credential.get(id=row.id)
    assert stored.last_used_at == later


async def test_another_kind_with_the_same_digest_is_not_a_session(sessions, backend, make_user):
    """An API token row is never accepted as a session, even if its digest were presented."""
    user = await make_user("alice")
    token, row = await backend.api_tokens.write_token(user, "ci", [], 30, None)
    assert await sessions.read(token) is None  # token format is refused outright

    assert await sessions.live.find(CredentialKind.SESSION, secret_hash=row.secret_hash) is None
    assert await sessions.live.find(CredentialKind.API_TOKEN, secret_hash=row.secret_hash) is not None
