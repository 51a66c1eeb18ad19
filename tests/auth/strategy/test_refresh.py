"""Refresh tokens: rotation, reuse detection, concurrent rotation, expiry and revocation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from auth.secrets import REFRESH_TOKEN_PATTERN, digest
from auth.strategy.refresh import RefreshRejected, RefreshStrategy
from auth.strategy.rows import LiveCredentials
from core.client import ClientInfo
from core.clock import as_utc
from models import Credential, CredentialKind, RefreshToken, User
from tests.helpers import raw_row

NO_CLIENT = ClientInfo(ip=None, is_https=False, user_agent=None)

T0 = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def refresh(backend) -> RefreshStrategy:
    return backend.bearer.refresh


async def test_new_family_has_a_prefixed_token_stored_only_as_a_digest(refresh, make_user):
    user = await make_user("alice")
    token, family = await refresh.write_family(user, "agent", "198.51.100.2")
    assert REFRESH_TOKEN_PATTERN.match(token)
    assert token.startswith("gtr_")
    assert family.kind == CredentialKind.REFRESH
    assert family.secret_hash is None
    row = await RefreshToken.get(family_id=family.id)
    assert row.token_hash == digest(token)
    stored = await raw_row("refresh_tokens", row.id)
    assert all(token not in str(value) for value in stored.values())
    assert all(token[4:] not in str(value) for value in (await raw_row("credentials", family.id)).values())


async def test_rotation_returns_a_successor_in_the_same_family(refresh, make_user):
    user = await make_user("alice")
    first, family = await refresh.write_family(user, None, None)
    second, rotated_family = await refresh.rotate(first)
    assert second != first
    assert REFRESH_TOKEN_PATTERN.match(second)
    assert rotated_family.id == family.id
    assert rotated_family.user.id == user.id
    third, _ = await refresh.rotate(second)
    assert third not in (first, second)


async def test_a_used_token_is_refused_and_revokes_the_family(refresh, make_user):
    user = await make_user("alice")
    first, family = await refresh.write_family(user, None, None)
    second, _ = await refresh.rotate(first)
    with pytest.raises(RefreshRejected, match="reused"):
        await refresh.rotate(first)
    # The whole family is over: the legitimate successor and its access tokens too.
    with pytest.raises(RefreshRejected):
        await refresh.rotate(second)
    assert await refresh.read_family(str(family.id)) is None
    assert (await Credential.get(id=family.id)).revoked_at is not None


async def test_reuse_does_not_touch_other_families(refresh, make_user):
    user = await make_user("alice")
    stolen, _ = await refresh.write_family(user, None, None)
    other, other_family = await refresh.write_family(user, None, None)
    await refresh.rotate(stolen)
    with pytest.raises(RefreshRejected):
        await refresh.rotate(stolen)
    assert await refresh.read_family(str(other_family.id)) is not None
    await refresh.rotate(other)


async def test_concurrent_rotation_has_exactly_one_winner(refresh, make_user):
    user = await make_user("alice")
    token, family = await refresh.write_family(user, None, None)
    outcomes = await asyncio.gather(*(refresh.rotate(token) for _ in range(4)), return_exceptions=True)
    winners = [o for o in outcomes if isinstance(o, tuple)]
    losers = [o for o in outcomes if isinstance(o, RefreshRejected)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 3, outcomes
    # A second presentation of a spent token is reuse: the family ends.
    assert await refresh.read_family(str(family.id)) is None
    assert await RefreshToken.filter(family_id=family.id, used_at__isnull=True).count() == 1


@pytest.mark.parametrize(
    "token",
    ["", "gtr_", "gtr_short", "gth_" + "a" * 43, "a" * 47, "gtr_" + "a" * 42 + "!", " gtr_" + "a" * 43],
)
async def test_malformed_tokens_are_refused(refresh, token):
    with pytest.raises(RefreshRejected, match="malformed"):
        await refresh.rotate(token)


async def test_unknown_token_is_refused(refresh, make_user):
    await make_user("alice")
    with pytest.raises(RefreshRejected, match="unknown"):
        await refresh.rotate("gtr_" + "a" * 43)


async def test_expired_token_is_refused(refresh, make_user, settings):
    user = await make_user("alice")
    with time_machine.travel(T0, tick=False):
        token, _ = await refresh.write_family(user, None, None)
    with time_machine.travel(T0 + timedelta(seconds=settings.refresh_token_ttl + 1), tick=False):
        with pytest.raises(RefreshRejected):
            await refresh.rotate(token)


async def test_token_just_before_expiry_rotates_and_the_expiry_slides(refresh, make_user, settings):
    user = await make_user("alice")
    ttl = timedelta(seconds=settings.refresh_token_ttl)
    with time_machine.travel(T0, tick=False):
        token, family = await refresh.write_family(user, None, None)
    assert as_utc(family.expires_at) == T0 + ttl
    later = T0 + ttl - timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        successor, _ = await refresh.rotate(token)
    assert as_utc((await Credential.get(id=family.id)).expires_at) == later + ttl
    with time_machine.travel(later + ttl - timedelta(hours=1), tick=False):
        await refresh.rotate(successor)


async def test_revoked_family_cannot_rotate(refresh, make_user):
    user = await make_user("alice")
    token, family = await refresh.write_family(user, None, None)
    await refresh.revoke_family(str(family.id))
    with pytest.raises(RefreshRejected):
        await refresh.rotate(token)
    assert await refresh.read_family(str(family.id)) is None


async def test_deactivated_user_cannot_rotate(refresh, make_user):
    user = await make_user("alice")
    token, family = await refresh.write_family(user, None, None)
    await User.filter(id=user.id).update(is_active=False)
    with pytest.raises(RefreshRejected):
        await refresh.rotate(token)
    assert await refresh.read_family(str(family.id)) is None


async def test_read_family_returns_the_live_family_with_its_user(refresh, make_user):
    user = await make_user("alice")
    _, family = await refresh.write_family(user, None, None)
    found = await refresh.read_family(str(family.id))
    assert found is not None and found.user.id == user.id


async def test_read_family_ignores_other_kinds(refresh, backend, make_user):
    user = await make_user("alice")
    _, session = await backend.sessions.write_token(user, NO_CLIENT)
    assert await refresh.read_family(str(session.id)) is None


async def test_revoke_family_keeps_the_first_revocation_time(refresh, make_user):
    user = await make_user("alice")
    _, family = await refresh.write_family(user, None, None)
    with time_machine.travel(T0, tick=False):
        await refresh.revoke_family(str(family.id))
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        await refresh.revoke_family(str(family.id))
    assert as_utc((await Credential.get(id=family.id)).revoked_at) == T0


async def test_a_family_ends_at_its_absolute_age_however_often_it_rotates(refresh, make_user, settings):
    user = await make_user("alice")
    max_age = timedelta(seconds=settings.refresh_family_max_age)
    step = timedelta(seconds=settings.refresh_token_ttl) - timedelta(hours=1)
    with time_machine.travel(T0, tick=False) as clock:
        token, family = await refresh.write_family(user, None, None)
        end = refresh.family_end(family)
        assert end == T0 + max_age
        moment = T0
        while moment + step < end:
            moment += step
            clock.move_to(moment)
            token, _ = await refresh.rotate(token)
            row = await RefreshToken.get(token_hash=digest(token))
            assert as_utc(row.expires_at) <= end
            assert as_utc((await Credential.get(id=family.id)).expires_at) <= end
        clock.move_to(end)
        with pytest.raises(RefreshRejected, match="past the family's end"):
            await refresh.rotate(token)
        assert await refresh.read_family(str(family.id)) is None


async def test_the_first_token_is_capped_by_a_short_family_age(backend, make_user, settings):
    live = backend.bearer.live
    short = LiveCredentials(
        live.store, settings.with_(refresh_family_max_age=3600), live.cache, live.identities
    )
    strategy = RefreshStrategy(short)
    user = await make_user("alice")
    with time_machine.travel(T0, tick=False):
        _, family = await strategy.write_family(user, None, None)
    assert as_utc(family.expires_at) == T0 + timedelta(hours=1)
    assert as_utc((await RefreshToken.get(family_id=family.id)).expires_at) == T0 + timedelta(hours=1)


async def test_a_failure_storing_the_successor_leaves_the_token_unspent(refresh, make_user, monkeypatch):
    from tortoise.exceptions import OperationalError

    user = await make_user("alice")
    token, family = await refresh.write_family(user, None, None)

    async def failing(cls, **kwargs):
        raise OperationalError("lost the connection")

    with monkeypatch.context() as patched:
        patched.setattr(RefreshToken, "create", classmethod(failing))
        with pytest.raises(OperationalError):
            await refresh.rotate(token)
    assert await RefreshToken.filter(family_id=family.id, used_at__isnull=False).count() == 0
    successor, _ = await refresh.rotate(token)
    assert successor != token
    assert await refresh.read_family(str(family.id)) is not None
