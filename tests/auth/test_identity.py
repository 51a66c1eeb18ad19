"""Identities made from credential rows, and kept only for the very same row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from auth.identity import ANONYMOUS, DerivedIdentities, Scheme
from models import CredentialKind


def _row(roles: list[str], scopes: list[str] | None = None) -> Any:
    """A credential row with its user, as the strategies load them (only what is read)."""
    user = SimpleNamespace(id=uuid.UUID(int=7), roles=roles)
    expires_at = datetime(2031, 1, 1, tzinfo=UTC)
    return SimpleNamespace(
        id=uuid.UUID(int=9),
        kind=CredentialKind.API_TOKEN if scopes is not None else CredentialKind.REFRESH,
        scopes=scopes or [],
        user=user,
        expires_at=expires_at,
        auth_time=SIGNED_IN_AT.replace(tzinfo=None),  # databases may hand back naive UTC
        amr=["pwd"],
    )


SIGNED_IN_AT = datetime(2030, 12, 31, 23, 0, tzinfo=UTC)


def test_the_identity_carries_the_row_s_sign_in_and_kind():
    identity = DerivedIdentities().of(_row([]), Scheme.JWT, "Bearer")
    assert identity.auth_time == SIGNED_IN_AT and identity.auth_time.tzinfo is not None
    assert identity.amr == ("pwd",)
    assert identity.credential_kind == "REFRESH"
    token = DerivedIdentities().of(_row([], scopes=["x"]), Scheme.TOKEN, "Token")
    assert token.credential_kind == "API_TOKEN"


def test_a_row_without_auth_time_gives_none():
    row = _row([])
    row.auth_time, row.amr = None, []
    identity = DerivedIdentities().of(row, Scheme.SESSION, "cookie")
    assert identity.auth_time is None and identity.amr == ()


def test_the_same_row_gives_the_same_identity():
    identities = DerivedIdentities()
    row = _row(["admin"])
    first = identities.of(row, Scheme.JWT, "Bearer")
    assert identities.of(row, Scheme.JWT, "Bearer") is first
    assert first.user_id == str(uuid.UUID(int=7)) and first.credential_id == str(uuid.UUID(int=9))
    assert first.has_role("admin") and first.scopes is None


def test_a_row_read_again_gives_a_new_identity():
    """After a role change the cache serves a new row object: its identity shows the change."""
    identities = DerivedIdentities()
    assert identities.of(_row(["admin"]), Scheme.JWT, "Bearer").has_role("admin")
    assert not identities.of(_row([]), Scheme.JWT, "Bearer").has_role("admin")


def test_how_it_was_presented_is_part_of_the_identity():
    identities = DerivedIdentities()
    row = _row([], scopes=["users:read"])
    as_token = identities.of(row, Scheme.TOKEN, "Token")
    as_bearer = identities.of(row, Scheme.TOKEN, "Bearer")
    assert (as_token.presented_as, as_bearer.presented_as) == ("Token", "Bearer")
    assert as_token.scopes == frozenset({"users:read"})


def test_the_memo_is_bounded():
    identities = DerivedIdentities(max_entries=3)
    rows = [_row([]) for _ in range(5)]
    for row in rows:
        identities.of(row, Scheme.SESSION, "cookie")
    assert len(identities._made) == 3


def test_anonymous_has_no_user_id():
    assert ANONYMOUS.user_id is None and not ANONYMOUS.is_authenticated


def test_nothing_is_kept_without_an_identity_cache():
    identities = DerivedIdentities(enabled=False)
    row = _row([])
    assert identities.of(row, Scheme.JWT, "Bearer") is not identities.of(row, Scheme.JWT, "Bearer")
    assert not identities._made
