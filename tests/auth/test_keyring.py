"""The key ring (auth/keyring.py): first key, rotation, retirement, the reload interval
(time-machine), the rate-limited reload for an unknown kid, background reloads, and the
private parts at rest (encrypted under SECRET_KEY, bound to their kid)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from auth.keyring import (
    UNKNOWN_KID_RELOAD_GAP,
    ForeignSecretKey,
    KeyRingNotReady,
    NoUsableSigningKey,
    StaticKeyRing,
    StoredKeyRing,
    add_key,
    build_key_ring,
    decrypt_private_key,
    generate_key,
    retire_key,
    rotate_key,
    startup_refusal,
)
from core.settings import Secret
from tests.helpers import TEST_SECRET, make_settings
from tests.helpers.signing_keys import MemorySigningKeys

SECRET = Secret(TEST_SECRET)
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def ring(store: MemorySigningKeys, algorithm: str = "EdDSA", interval: float = 30) -> StoredKeyRing:
    return StoredKeyRing(algorithm, store, SECRET, reload_interval=interval)


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
async def test_the_first_start_creates_one_key_and_later_starts_none(algorithm):
    store = MemorySigningKeys()
    first = ring(store, algorithm)
    await first.start(background=False)
    assert len(store.rows) == 1
    assert first.signer.kid == store.rows[0].kid and first.signer.algorithm == algorithm
    second = ring(store, algorithm)
    await second.start(background=False)
    assert len(store.rows) == 1 and second.signer.kid == first.signer.kid


def test_a_ring_not_started_has_no_signer():
    with pytest.raises(KeyRingNotReady):
        ring(MemorySigningKeys()).signer  # noqa: B018


async def test_after_a_rotation_the_newest_signs_and_both_verify():
    store = MemorySigningKeys()
    keys = ring(store)
    await keys.start(background=False)
    old = keys.signer.kid
    new = await add_key(store, "EdDSA", SECRET)
    assert keys.signer.kid == old  # not before the reload
    await keys.reload()
    assert keys.signer.kid == new
    assert keys.knows(old) and keys.knows(new)
    assert {k["kid"] for k in keys.public_jwks()["keys"]} == {old, new}


async def test_a_retired_key_leaves_the_ring_and_the_jwks():
    store = MemorySigningKeys()
    keys = ring(store)
    await keys.start(background=False)
    old = keys.signer.kid
    await add_key(store, "EdDSA", SECRET)
    await keys.reload()
    await retire_key(store, "EdDSA", old, SECRET)
    await keys.reload()
    assert not keys.knows(old)
    assert old not in {k["kid"] for k in keys.public_jwks()["keys"]}


async def test_keys_of_another_algorithm_are_not_loaded():
    store = MemorySigningKeys()
    await add_key(store, "ES256", SECRET)
    keys = ring(store, "EdDSA")
    await keys.start(background=False)
    assert len(store.rows) == 2  # an EdDSA key was made: the ES256 one cannot sign EdDSA
    assert [k["crv"] for k in keys.public_jwks()["keys"]] == ["Ed25519"]


async def test_the_ring_reloads_only_once_the_interval_has_passed():
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        keys = ring(store, interval=30)
        await keys.start(background=False)
        new = await add_key(store, "EdDSA", SECRET)
        clock.shift(timedelta(seconds=29))
        assert not await keys.reload_if_stale()
        assert not keys.knows(new)
        clock.shift(timedelta(seconds=1))
        assert await keys.reload_if_stale()
        assert keys.signer.kid == new


async def test_an_unknown_kid_reloads_once_then_waits_for_the_gap():
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        keys = ring(store)
        await keys.start(background=False)
        loads = store.loads
        new = await add_key(store, "EdDSA", SECRET)
        # A token of another instance, signed by a key this one has not loaded yet.
        assert await keys.reload_for(new)
        assert store.loads == loads + 1
        # Random kids: one reload per gap at most, whatever their number (the gap of the
        # reload just made is not over).
        for n in range(50):
            assert not await keys.reload_for(f"random-{n}")
        assert store.loads == loads + 1
        clock.shift(timedelta(seconds=UNKNOWN_KID_RELOAD_GAP))
        for n in range(50):
            assert not await keys.reload_for(f"random-again-{n}")
        assert store.loads == loads + 2
        # A known kid never reloads.
        assert await keys.reload_for(new)
        assert store.loads == loads + 2


async def test_concurrent_unknown_kids_share_one_reload():
    store = MemorySigningKeys()
    keys = ring(store)
    await keys.start(background=False)
    loads = store.loads
    new = await add_key(store, "EdDSA", SECRET)
    results = await asyncio.gather(*(keys.reload_for(new) for _ in range(20)))
    assert store.loads == loads + 1
    assert results[0] is True


async def test_the_background_task_picks_up_a_rotation():
    store = MemorySigningKeys()
    keys = ring(store, interval=1)
    await keys.start()
    try:
        new = await add_key(store, "EdDSA", SECRET)
        for _ in range(40):
            if keys.signer.kid == new:
                break
            await asyncio.sleep(0.1)
        assert keys.signer.kid == new
    finally:
        await keys.stop()


async def test_a_failed_background_reload_keeps_the_loaded_keys(caplog):
    store = MemorySigningKeys()
    keys = ring(store, interval=1)
    await keys.start()
    kid = keys.signer.kid

    async def broken(algorithm: str) -> list:
        raise ConnectionError("database down")

    store.live = broken  # type: ignore[method-assign]
    try:
        await asyncio.sleep(1.5)
        assert keys.signer.kid == kid and keys.knows(kid)
        assert "reloading the signing keys failed" in caplog.text
    finally:
        await keys.stop()


# -- at rest ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
def test_the_private_part_is_stored_encrypted_and_the_public_jwk_holds_no_private_member(algorithm):
    new = generate_key(algorithm, SECRET)
    assert "d" not in new.public_jwk
    assert set(new.public_jwk) <= {"kty", "crv", "x", "y", "kid", "alg", "use"}
    segment = new.private_jwe.split(".")[0]
    protected = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    assert protected == {"alg": "dir", "enc": "A256GCM", "kid": new.kid}
    assert new.private_jwe.split(".")[1] == ""  # `dir`: no wrapped key, SECRET_KEY's sub-key decrypts
    assert '"d"' not in new.private_jwe and new.public_jwk["x"] not in new.private_jwe


def test_a_private_part_does_not_decrypt_under_another_secret_key():
    new = generate_key("EdDSA", SECRET)
    row = type("Row", (), {**new.__dict__, "created_at": T0})()
    assert decrypt_private_key(row, SECRET) is not None
    other = Secret("another-secret-key-that-is-long-enough-9876543")
    with pytest.raises(ValueError, match="another SECRET_KEY"):
        decrypt_private_key(row, other)
    # After a SECRET_KEY rotation the old key, kept in PREVIOUS_SECRET_KEYS, still opens it.
    assert decrypt_private_key(row, other, previous=[SECRET]) is not None


def test_a_private_part_copied_onto_another_kid_is_refused():
    first, second = generate_key("EdDSA", SECRET), generate_key("EdDSA", SECRET)
    swapped = type("Row", (), {**second.__dict__, "private_jwe": first.private_jwe, "created_at": T0})()
    with pytest.raises(ValueError, match="another key"):
        decrypt_private_key(swapped, SECRET)


def test_hs256_derives_its_keys_and_publishes_nothing():
    keys = build_key_ring(make_settings(jwt_algorithm="HS256"), None)
    assert isinstance(keys, StaticKeyRing)
    assert keys.signer.algorithm == "HS256"
    assert keys.public_jwks() == {"keys": []}


def test_an_asymmetric_ring_needs_a_store():
    with pytest.raises(ValueError, match="store"):
        build_key_ring(make_settings(jwt_algorithm="EdDSA"), None)


# -- rows that cannot be read or decrypted ---------------------------------------------

OTHER_SECRET = Secret("another-secret-key-that-is-long-enough-9876543")


async def test_a_row_with_an_unreadable_public_jwk_is_left_out_and_the_others_load(caplog):
    store = MemorySigningKeys()
    keys = ring(store)
    await keys.start(background=False)
    old = keys.signer.kid
    broken = await add_key(store, "EdDSA", SECRET)
    store.rows[-1].public_jwk = {"kty": "OKP", "crv": "Ed25519", "kid": broken, "x": "not base64url!"}
    await keys.reload()  # does not raise: the readable rows are swapped in
    assert not keys.knows(broken) and keys.knows(old)
    assert keys.signer.kid == old  # the broken newest cannot sign: tokens would not verify
    assert f"signing key {broken} has an unreadable public JWK" in caplog.text
    assert store.rows[-1].private_jwe not in caplog.text


async def test_a_ring_whose_live_keys_none_decrypts_refuses_to_start_and_adds_no_key():
    store = MemorySigningKeys()
    await add_key(store, "EdDSA", OTHER_SECRET)
    keys = ring(store)
    with pytest.raises(NoUsableSigningKey, match="SECRET_KEY they were stored under"):
        await keys.start(background=False)
    assert len(store.rows) == 1  # no key of this SECRET_KEY slipped in as the newest
    assert keys.knows(store.rows[0].kid)  # tokens other instances sign still verify
    with pytest.raises(NoUsableSigningKey):
        keys.signer  # noqa: B018


async def test_rotate_key_refuses_a_secret_key_that_opens_no_live_key():
    store = MemorySigningKeys()
    first = await rotate_key(store, "EdDSA", SECRET)  # an empty database: the first key
    with pytest.raises(ForeignSecretKey, match="SECRET_KEY the instances use"):
        await rotate_key(store, "EdDSA", OTHER_SECRET)
    assert [row.kid for row in store.rows] == [first]
    # After a SECRET_KEY rotation the old one, in PREVIOUS_SECRET_KEYS, opens the key.
    second = await rotate_key(store, "EdDSA", OTHER_SECRET, previous=[SECRET])
    assert [row.kid for row in store.rows] == [first, second]


async def test_rotate_key_despite_unreadable_keys_adds_one_this_secret_key_signs_with():
    # The SECRET_KEY the live keys were stored under is lost: the way out the start-up
    # refusal names. The unreadable keys stay live (they still verify) until retired.
    store = MemorySigningKeys()
    lost = await rotate_key(store, "EdDSA", OTHER_SECRET)
    added = await rotate_key(store, "EdDSA", SECRET, despite_unreadable_keys=True)
    keys = ring(store)
    await keys.start(background=False)
    assert keys.signer.kid == added and keys.knows(lost)
    assert len(store.rows) == 2


async def test_the_startup_check_names_the_cause_and_the_way_out_and_reads_only():
    store = MemorySigningKeys()
    settings = make_settings(jwt_algorithm="EdDSA")
    assert await startup_refusal(store, settings) is None  # nothing stored: the first start makes it
    await add_key(store, "EdDSA", OTHER_SECRET)
    await add_key(store, "EdDSA", OTHER_SECRET)
    store.rows[-1].public_jwk = {"kty": "OKP"}  # damaged: counted, never read
    refusal = await startup_refusal(store, settings)
    assert refusal is not None and "none of the 2 live EdDSA signing keys can sign here" in refusal
    assert "SECRET_KEY they were stored under" in refusal and "--despite-unreadable-keys" in refusal
    assert "\n" not in refusal and TEST_SECRET not in refusal
    assert await startup_refusal(store, make_settings(jwt_algorithm="ES256")) is None  # none of ES256
    assert await startup_refusal(store, make_settings(jwt_algorithm="HS256")) is None
    rotated = make_settings(jwt_algorithm="EdDSA", previous_secret_keys=(OTHER_SECRET,))
    assert await startup_refusal(store, rotated) is None  # the older row opens
    assert len(store.rows) == 2
