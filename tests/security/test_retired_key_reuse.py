"""Key rotation and retirement. HS256: the newest `SECRET_KEY` signs (its `kid` in the
header), keys listed in `PREVIOUS_SECRET_KEYS` still verify, and a key removed from the list
verifies nothing. EdDSA / ES256: `rotate-keys` adds a key that signs (once
PUBLICATION_LEAD has passed: the clock moved with time-machine), `--retire KID` ends one,
and once the ring reloads its tokens are dead, even those verified (and remembered)
before. Tokens signed with a leaked, retired key are dead."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from auth.keyring import (
    PUBLICATION_LEAD,
    NoUsableSigningKey,
    RetireLeavesNoSigner,
    SigningKeyUnknown,
    StoredKeyRing,
    add_key,
    retire_key,
)
from auth.strategy.jwt import InvalidAccessToken, JWTStrategy
from core.clock import utcnow
from core.errors import INTERNAL_MESSAGE
from core.settings import Secret
from tests.helpers import LOGIN, STRONG_PASSWORD, TEST_SECRET, gql, login_variables, make_settings
from tests.helpers.forgery import header_of, kid_of, server_key
from tests.helpers.signing_keys import MemorySigningKeys

OLD = "old-secret-key-that-is-long-enough-0000000000"
NEW = "new-secret-key-that-is-long-enough-1111111111"
USER, FAMILY = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
PAST_THE_LEAD = timedelta(seconds=PUBLICATION_LEAD + 1)  # a key added before now may sign


def strategy(current: str, *previous: str) -> JWTStrategy:
    return JWTStrategy(
        make_settings(
            secret_key=Secret(current),
            previous_secret_keys=tuple(Secret(p) for p in previous),
            jwt_algorithm="HS256",
        )
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


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
async def test_a_retired_stored_key_verifies_nothing_even_remembered_tokens(algorithm):
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        ring = StoredKeyRing(algorithm, store, Secret(TEST_SECRET), reload_interval=30)
        await ring.start(background=False)
        jwts = JWTStrategy(make_settings(jwt_algorithm=algorithm), ring)
        old_kid = ring.signer.kid
        old_token, _ = jwts.issue(USER, FAMILY)
        assert jwts.verify(old_token).user_id == USER  # verified once: remembered

        await add_key(store, algorithm, Secret(TEST_SECRET))
        await ring.reload()
        clock.shift(PAST_THE_LEAD)
        assert ring.signer.kid != old_kid
        assert jwts.verify(old_token).user_id == USER  # rotated, not retired: still verifies

        await retire_key(store, algorithm, old_kid, Secret(TEST_SECRET))
        await ring.reload()
        with pytest.raises(InvalidAccessToken):
            jwts.verify(old_token)
        # Naming the retired kid gets no second chance through the unknown-kid reload either.
        with pytest.raises(InvalidAccessToken):
            await jwts.verify_or_reload(old_token)


async def test_the_key_that_signs_now_cannot_be_retired():
    store = MemorySigningKeys()
    ring = StoredKeyRing("EdDSA", store, Secret(TEST_SECRET), reload_interval=30)
    await ring.start(background=False)
    with pytest.raises(SigningKeyUnknown, match="signs now"):
        await retire_key(store, "EdDSA", ring.signer.kid, Secret(TEST_SECRET))
    with pytest.raises(SigningKeyUnknown, match="no live"):
        await retire_key(store, "EdDSA", "not-a-kid", Secret(TEST_SECRET))
    assert [row.retired_at for row in store.rows] == [None]


async def test_the_old_key_is_not_retired_while_its_successor_waits_for_its_time():
    # Retired at once, the old key would leave the instances only the new one, which
    # would then sign before every instance publishes it (or, when it has an activation
    # time, long before the shared caches hold it).
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        ring = StoredKeyRing("EdDSA", store, Secret(TEST_SECRET), reload_interval=30)
        await ring.start(background=False)
        old = ring.signer.kid
        clock.shift(timedelta(minutes=1))
        new = await add_key(store, "EdDSA", Secret(TEST_SECRET), T0 + timedelta(minutes=6))
        until = f"until {new} signs from 2030-01-01T12:06:00+00:00"
        with pytest.raises(SigningKeyUnknown, match=re.escape(f"{old} is the key that signs now, {until}")):
            await retire_key(store, "EdDSA", old, Secret(TEST_SECRET))
        with pytest.raises(SigningKeyUnknown, match="the key that signs from 2030-01-01T12:06:00"):
            await retire_key(store, "EdDSA", new, Secret(TEST_SECRET))  # the newest: rotate first
        assert [row.retired_at for row in store.rows] == [None, None]

        clock.shift(timedelta(minutes=5))
        await retire_key(store, "EdDSA", old, Secret(TEST_SECRET))
        await ring.reload()
        assert ring.signer.kid == new and not ring.knows(old)


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
async def test_a_key_retired_while_the_newest_cannot_be_decrypted_stops_verifying_and_signing(
    algorithm, caplog
):
    # rotate-keys run under another SECRET_KEY (before it refused that): the newest row's
    # private part opens for no instance. The leaked key is then retired: it must be gone,
    # not kept (with the old signer) because the reload stumbles on the newest row.
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        ring = StoredKeyRing(algorithm, store, Secret(TEST_SECRET), reload_interval=30)
        await ring.start(background=False)
        jwts = JWTStrategy(make_settings(jwt_algorithm=algorithm), ring)
        leaked = ring.signer.kid
        old_token, _ = jwts.issue(USER, FAMILY)
        foreign = await add_key(store, algorithm, Secret(NEW))
        clock.shift(PAST_THE_LEAD)
        await ring.reload()
        assert ring.signer.kid == leaked  # the newest cannot sign here: the older one still does
        assert ring.knows(foreign)  # ... but tokens signed with it elsewhere verify
        assert f"the newest {algorithm} signing key {foreign} cannot be decrypted" in caplog.text

        await retire_key(store, algorithm, leaked, Secret(NEW))  # from the machine that added it
        await ring.reload()
        assert not ring.knows(leaked)
        assert leaked not in {key["kid"] for key in ring.public_jwks()["keys"]}
        with pytest.raises(InvalidAccessToken):
            jwts.verify(old_token)
        with pytest.raises(InvalidAccessToken):
            await jwts.verify_or_reload(old_token)
        with pytest.raises(NoUsableSigningKey, match="no access token is issued"):
            jwts.issue(USER, FAMILY)  # no key left to sign with here: refused, not the retired one
        private_parts = [row.private_jwe for row in store.rows]
        assert not any(part in caplog.text for part in private_parts)


@pytest.mark.parametrize("newest", ["stored-under-another-secret-key", "damaged-public-jwk"])
async def test_retiring_the_only_key_this_secret_key_signs_with_is_refused(newest):
    # The newest row cannot sign here, so the older key is the one that really signs:
    # retiring it would leave every instance with this SECRET_KEY nothing to sign with.
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        ring = StoredKeyRing("EdDSA", store, Secret(TEST_SECRET), reload_interval=30)
        await ring.start(background=False)
        signing = ring.signer.kid
        if newest == "damaged-public-jwk":
            await add_key(store, "EdDSA", Secret(TEST_SECRET))
            store.rows[-1].public_jwk = {"kty": "OKP", "crv": "Ed25519"}
        else:
            await add_key(store, "EdDSA", Secret(NEW))
        clock.shift(PAST_THE_LEAD)
        await ring.reload()
        assert ring.signer.kid == signing

        with pytest.raises(RetireLeavesNoSigner, match="only live EdDSA signing key"):
            await retire_key(store, "EdDSA", signing, Secret(TEST_SECRET))
        assert [row.retired_at for row in store.rows] == [None, None]  # nothing changed
        await ring.reload()
        assert ring.signer.kid == signing

        # Once a key this SECRET_KEY opens is the newest (and signs), the old one may go.
        added = await add_key(store, "EdDSA", Secret(TEST_SECRET))
        clock.shift(PAST_THE_LEAD)
        await retire_key(store, "EdDSA", signing, Secret(TEST_SECRET))
        await ring.reload()
        assert ring.signer.kid == added and not ring.knows(signing)


async def test_a_login_with_no_key_left_to_sign_answers_an_internal_error_without_internals(
    http, app, alice, caplog
):
    # The only key this instance can decrypt is retired (a newer one was stored under
    # another SECRET_KEY): the login answers INTERNAL_SERVER_ERROR and says nothing more.
    ring = app.state.backend.keyring
    ours = ring.signer.kid
    foreign = await add_key(ring.store, ring.algorithm, Secret(NEW))
    with time_machine.travel(utcnow() + PAST_THE_LEAD, tick=True):
        await retire_key(ring.store, ring.algorithm, ours, Secret(NEW))
        await ring.reload()
        assert [key["kid"] for key in (await http.get("/.well-known/jwks.json")).json()["keys"]] == [foreign]
        result = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)
    assert result.codes == ["INTERNAL_SERVER_ERROR"]
    assert result.errors[0]["message"] == INTERNAL_MESSAGE
    assert "SECRET_KEY" not in str(result.body) and ours not in str(result.body)
    assert "no access token is issued" in caplog.text  # the operator is told why
