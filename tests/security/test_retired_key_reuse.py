"""Key rotation: the newest `SECRET_KEY` signs (its `kid` in the header), keys listed in
`PREVIOUS_SECRET_KEYS` still verify, and a key removed from the list verifies nothing:
tokens signed with a leaked, retired key are dead."""

from __future__ import annotations

import pytest

from auth.strategy.jwt import InvalidAccessToken, JWTStrategy
from core.settings import Secret
from tests.helpers import make_settings
from tests.helpers.forgery import header_of, kid_of, server_key

OLD = "old-secret-key-that-is-long-enough-0000000000"
NEW = "new-secret-key-that-is-long-enough-1111111111"
USER, FAMILY = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


def strategy(current: str, *previous: str) -> JWTStrategy:
    return JWTStrategy(
        make_settings(secret_key=Secret(current), previous_secret_keys=tuple(Secret(p) for p in previous))
    )


def test_the_newest_key_signs_and_names_itself():
    token, _ = strategy(NEW, OLD).issue(USER, FAMILY)
    assert header_of(token)["kid"] == kid_of(server_key(NEW))


def test_tokens_signed_with_the_previous_key_verify_during_rotation():
    old_token, _ = strategy(OLD).issue(USER, FAMILY)
    claims = strategy(NEW, OLD).verify(old_token)
    assert (claims.user_id, claims.family_id) == (USER, FAMILY)


def test_tokens_signed_with_a_retired_key_are_refused():
    old_token, _ = strategy(OLD).issue(USER, FAMILY)
    with pytest.raises(InvalidAccessToken):
        strategy(NEW).verify(old_token)


def test_a_token_cannot_pick_the_old_key_by_naming_it_after_retirement():
    # Even with the right kid of a key that is no longer configured, nothing verifies.
    old_token, _ = strategy(OLD).issue(USER, FAMILY)
    with pytest.raises(InvalidAccessToken):
        strategy(NEW, "yet-another-secret-key-long-enough-22222222").verify(old_token)
