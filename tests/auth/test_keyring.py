"""The key ring (auth/keyring.py): first key, rotation (published at once, signing only
after PUBLICATION_LEAD or its activation time, wall clock moved with time-machine), the
published set read from the store (cached, shared reads), retirement, the rate-limited
reload for an unknown kid (monotonic clock), background reloads at their interval, and
the private parts at rest (encrypted under SECRET_KEY, bound to their kid)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from auth.keyring import (
    PUBLICATION_LEAD,
    PUBLISHED_SET_TTL,
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
    signs_from,
    startup_refusal,
)
from core.clock import utcnow
from core.settings import Secret
from tests.helpers import TEST_SECRET, make_settings
from tests.helpers.signing_keys import MemorySigningKeys

SECRET = Secret(TEST_SECRET)
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeMonotonic:
    """A monotonic clock the test moves (time-machine moves only the wall clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ring(
    store: MemorySigningKeys,
    algorithm: str = "EdDSA",
    interval: float = 30,
    monotonic: FakeMonotonic | None = None,
) -> StoredKeyRing:
    if monotonic is None:
        return StoredKeyRing(algorithm, store, SECRET, reload_interval=interval)
    return StoredKeyRing(algorithm, store, SECRET, reload_interval=interval, monotonic=monotonic)


def kids(key_set: dict) -> set[str]:
    return {key["kid"] for key in key_set["keys"]}


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


async def test_a_new_key_verifies_at_once_and_signs_only_once_the_lead_has_passed():
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        keys = ring(store)
        await keys.start(background=False)
        old = keys.signer.kid  # the first key of a database signs at once: nothing else could
        new = await add_key(store, "EdDSA", SECRET)
        await keys.reload()
        assert keys.knows(old) and keys.knows(new)
        assert kids(keys.public_jwks()) == kids(await keys.published_jwks()) == {old, new}
        assert keys.signer.kid == old  # published, not signing yet

        clock.shift(timedelta(seconds=PUBLICATION_LEAD - 0.01))
        assert keys.signer.kid == old
        clock.shift(timedelta(seconds=0.02))
        assert keys.signer.kid == new  # no reload needed: the ring holds both


async def test_two_instances_publish_a_new_key_before_either_signs_with_it():
    """The review's case: instance A reloads right after a rotation; a verifier that does
    not know the new kid fetches the set again and lands on instance B, which has not
    reloaded. B's set comes from the store, at most PUBLISHED_SET_TTL old, and A signs
    with the key only PUBLICATION_LEAD after it was added, which is later."""
    assert PUBLICATION_LEAD > PUBLISHED_SET_TTL
    store = MemorySigningKeys()
    b_clock = FakeMonotonic()
    with time_machine.travel(T0, tick=False) as clock:
        a, b = ring(store), ring(store, interval=60, monotonic=b_clock)
        await a.start(background=False)
        await b.start(background=False)
        old = a.signer.kid
        assert kids(await b.published_jwks()) == {old}  # B's set, read and cached just now

        new = await add_key(store, "EdDSA", SECRET)
        await a.reload()  # the worst case: at once
        assert not b.knows(new)  # B's ring has not reloaded (and will not for a minute)
        assert kids(await b.published_jwks()) == {old}  # the cached read, under TTL old

        b_clock.now += PUBLISHED_SET_TTL
        clock.shift(timedelta(seconds=PUBLISHED_SET_TTL))
        assert kids(await b.published_jwks()) == {old, new}  # published by B ...
        assert a.signer.kid == old and b.signer.kid == old  # ... while the old key still signs

        clock.shift(timedelta(seconds=PUBLICATION_LEAD - PUBLISHED_SET_TTL + 0.01))
        assert a.signer.kid == new  # A signs with it now, and B has published it for seconds
        assert not b.knows(new) and kids(await b.published_jwks()) == {old, new}


async def test_the_published_set_is_read_from_the_store_once_per_ttl_and_shared():
    store = MemorySigningKeys()
    monotonic = FakeMonotonic()
    keys = ring(store, monotonic=monotonic)
    await keys.start(background=False)
    loads = store.loads
    answers = await asyncio.gather(*(keys.published_jwks() for _ in range(20)))
    assert store.loads == loads + 1  # concurrent requests share one read
    assert all(answer == answers[0] for answer in answers)
    monotonic.now += PUBLISHED_SET_TTL - 0.01
    await keys.published_jwks()
    assert store.loads == loads + 1
    monotonic.now += 0.01
    await keys.published_jwks()
    assert store.loads == loads + 2


async def test_the_published_set_holds_only_live_parsable_keys_of_the_algorithm():
    store = MemorySigningKeys()
    monotonic = FakeMonotonic()
    keys = ring(store, monotonic=monotonic)
    await keys.start(background=False)
    first = keys.signer.kid
    await add_key(store, "ES256", SECRET)
    broken = await add_key(store, "EdDSA", SECRET)
    store.rows[-1].public_jwk = {"kty": "OKP", "crv": "Ed25519", "kid": broken}
    retired = await add_key(store, "EdDSA", SECRET)
    await store.retire(retired)
    published = await keys.published_jwks()
    assert kids(published) == {first}
    assert all(set(key) <= {"kty", "crv", "x", "kid", "alg", "use"} for key in published["keys"])


async def test_a_failed_read_of_the_published_set_serves_the_loaded_keys(caplog):
    store = MemorySigningKeys()
    monotonic = FakeMonotonic()
    keys = ring(store, monotonic=monotonic)
    await keys.start(background=False)
    kid = keys.signer.kid

    async def broken(algorithm: str) -> list:
        raise ConnectionError("database down")

    store.live = broken  # type: ignore[method-assign]
    assert kids(await keys.published_jwks()) == {kid}
    assert "reading the signing keys to publish failed" in caplog.text


async def test_a_key_with_an_activation_time_is_published_at_once_and_signs_from_then():
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        keys = ring(store)
        await keys.start(background=False)
        old = keys.signer.kid
        clock.shift(timedelta(seconds=60))  # the first key is long in service
        later = await rotate_key(store, "EdDSA", SECRET, activates_at=utcnow() + timedelta(seconds=300))
        await keys.reload()
        assert later in kids(await keys.published_jwks())
        clock.shift(timedelta(seconds=299))
        assert keys.signer.kid == old  # the lead is long over; its activation time is not
        clock.shift(timedelta(seconds=1))
        assert keys.signer.kid == later


async def test_an_activation_time_sooner_than_the_lead_waits_for_the_lead():
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        keys = ring(store)
        await keys.start(background=False)
        old = keys.signer.kid
        clock.shift(timedelta(seconds=60))
        soon = await rotate_key(store, "EdDSA", SECRET, activates_at=utcnow())
        assert signs_from(store.rows[-1]) == utcnow().timestamp() + PUBLICATION_LEAD
        await keys.reload()
        assert keys.signer.kid == old
        clock.shift(timedelta(seconds=PUBLICATION_LEAD))
        assert keys.signer.kid == soon


async def test_the_newest_key_whose_time_has_come_signs_not_the_last_to_activate():
    # A key added with a distant activation time, then a plain rotation: the plain one is
    # newer, so it signs after its lead, and the distant one never takes over from it.
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        keys = ring(store)
        await keys.start(background=False)
        clock.shift(timedelta(seconds=60))
        distant = await rotate_key(store, "EdDSA", SECRET, activates_at=utcnow() + timedelta(hours=1))
        plain = await rotate_key(store, "EdDSA", SECRET)
        await keys.reload()
        clock.shift(timedelta(seconds=PUBLICATION_LEAD + 1))
        assert keys.signer.kid == plain
        clock.shift(timedelta(hours=2))
        await keys.reload()
        assert keys.signer.kid == plain and keys.knows(distant)


async def test_a_retired_key_leaves_the_ring_and_the_jwks():
    store = MemorySigningKeys()
    monotonic = FakeMonotonic()
    with time_machine.travel(T0, tick=False) as clock:
        keys = ring(store, monotonic=monotonic)
        await keys.start(background=False)
        old = keys.signer.kid
        await add_key(store, "EdDSA", SECRET)
        clock.shift(timedelta(seconds=PUBLICATION_LEAD + 1))
        await keys.reload()
        await retire_key(store, "EdDSA", old, SECRET)
        await keys.reload()
        assert not keys.knows(old)
        assert old not in kids(keys.public_jwks())
        monotonic.now += PUBLISHED_SET_TTL
        assert old not in kids(await keys.published_jwks())


async def test_keys_of_another_algorithm_are_not_loaded():
    store = MemorySigningKeys()
    await add_key(store, "ES256", SECRET)
    keys = ring(store, "EdDSA")
    await keys.start(background=False)
    assert len(store.rows) == 2  # an EdDSA key was made: the ES256 one cannot sign EdDSA
    assert [k["crv"] for k in keys.public_jwks()["keys"]] == ["Ed25519"]


async def test_the_background_task_reloads_every_interval_and_not_sooner():
    interval = 0.3
    store = MemorySigningKeys()
    keys = ring(store, interval=interval)
    loaded_at: list[float] = []
    live = store.live

    async def timed(algorithm: str) -> list:
        loaded_at.append(time.monotonic())
        return await live(algorithm)

    store.live = timed  # type: ignore[method-assign]
    await keys.start()  # loads, makes the first key, loads again
    started, at_start = time.monotonic(), len(loaded_at)
    try:
        await asyncio.sleep(interval * 4.5)
    finally:
        await keys.stop()
    background = loaded_at[at_start:]
    assert 3 <= len(background) <= 5, background
    gaps = [later - earlier for earlier, later in zip([started, *background], background, strict=False)]
    assert all(gap >= interval - 0.02 for gap in gaps), gaps


async def test_an_unknown_kid_reloads_once_then_waits_for_the_gap():
    store = MemorySigningKeys()
    monotonic = FakeMonotonic()
    keys = ring(store, monotonic=monotonic)
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
    monotonic.now += UNKNOWN_KID_RELOAD_GAP
    for n in range(50):
        assert not await keys.reload_for(f"random-again-{n}")
    assert store.loads == loads + 2
    # A known kid never reloads.
    assert await keys.reload_for(new)
    assert store.loads == loads + 2


@pytest.mark.parametrize("step", [timedelta(hours=-1), timedelta(seconds=UNKNOWN_KID_RELOAD_GAP)])
async def test_the_unknown_kid_gap_ignores_steps_of_the_wall_clock(step):
    # Backwards (NTP stepping the clock back an hour) must not stop the reloads for an
    # hour; forwards must not open the gap early and let random kids query the database.
    store = MemorySigningKeys()
    monotonic = FakeMonotonic()
    with time_machine.travel(T0, tick=False) as clock:
        keys = ring(store, monotonic=monotonic)
        await keys.start(background=False)
        loads = store.loads
        assert not await keys.reload_for("random-0")
        assert store.loads == loads + 1
        clock.shift(step)
        assert not await keys.reload_for("random-1")
        assert store.loads == loads + 1  # the gap is not over, whatever the wall clock says
        monotonic.now += UNKNOWN_KID_RELOAD_GAP
        assert not await keys.reload_for("random-2")
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
        old = keys.signer.kid
        new = await add_key(store, "EdDSA", SECRET)
        for _ in range(40):
            if keys.knows(new):
                break
            await asyncio.sleep(0.1)
        assert keys.knows(new) and keys.signer.kid == old  # loaded, its lead not over
        with time_machine.travel(utcnow() + timedelta(seconds=PUBLICATION_LEAD), tick=True):
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
