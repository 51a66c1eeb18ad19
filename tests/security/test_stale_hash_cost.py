"""Hashes made at an old, cheaper bcrypt cost stay cheap to crack offline unless they are
upgraded: a successful login re-hashes at the configured `BCRYPT_ROUNDS`."""

from __future__ import annotations

from auth.passwords import BcryptHasher
from models import User
from tests.helpers import (
    LOGIN,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    OpenApp,
    gql,
    login_variables,
    make_persona,
    make_settings,
)


def cost_of(password_hash: str) -> int:
    return int(password_hash.split("$")[2])


async def test_login_upgrades_a_hash_made_at_a_lower_cost(open_app: OpenApp):
    client = await open_app(make_settings(bcrypt_rounds=5))
    alice = await make_persona(client, "alice")
    old_hash = await BcryptHasher(rounds=4).hash(STRONG_PASSWORD)  # as an older deployment stored it
    await User.filter(id=alice.id).update(password_hash=old_hash)

    result = await gql(client, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)

    assert result.status == 200, result.body
    new_hash = (await User.get(id=alice.id)).password_hash
    assert new_hash != old_hash
    assert cost_of(old_hash) == 4 and cost_of(new_hash) == 5
    assert await BcryptHasher(rounds=5).verify(STRONG_PASSWORD, new_hash)
    again = await gql(client, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)
    assert again.status == 200, again.body
    assert (await User.get(id=alice.id)).password_hash == new_hash  # upgraded once, not every time


async def test_a_failed_login_leaves_the_old_hash_alone(open_app: OpenApp):
    client = await open_app(make_settings(bcrypt_rounds=5))
    alice = await make_persona(client, "alice")
    old_hash = await BcryptHasher(rounds=4).hash(STRONG_PASSWORD)
    await User.filter(id=alice.id).update(password_hash=old_hash)

    result = await gql(client, LOGIN, login_variables("alice", OTHER_PASSWORD), cookies=False)

    assert result.status == 401
    assert (await User.get(id=alice.id)).password_hash == old_hash
