"""Access tokens under JWT_ALGORITHM=EdDSA and ES256 (keys from a store): round trip, the
claims of docs/TOKENS.md (Hasura's under HASURA_CLAIMS), and tampered, expired,
wrong-audience and wrong-kid tokens; a token signed by a key loaded elsewhere first
verifies after one reload. The HS256 cases are in test_jwt.py."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine

from auth.keyring import PUBLICATION_LEAD, StoredKeyRing, add_key
from auth.strategy.jwt import HASURA_CLAIMS, LEEWAY, InvalidAccessToken, JWTStrategy, UnknownKeyId
from core.settings import Secret
from tests.helpers import TEST_SECRET, make_settings
from tests.helpers.forgery import fixed_key_ring
from tests.helpers.signing_keys import MemorySigningKeys

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
USER_ID, FAMILY_ID = str(uuid.uuid4()), str(uuid.uuid4())
SIGNED_IN = datetime(2030, 1, 1, 11, 0, 30, tzinfo=UTC)

pytestmark = pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])


def strategy(algorithm: str, **overrides: Any) -> JWTStrategy:
    return JWTStrategy(make_settings(jwt_algorithm=algorithm, **overrides), fixed_key_ring(algorithm))


def payload(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_round_trip_with_the_contract_claims(algorithm):
    jwts = strategy(algorithm)
    with time_machine.travel(T0, tick=False):
        token, ttl = jwts.issue(
            USER_ID, FAMILY_ID, roles=["admin", "editor"], auth_time=SIGNED_IN, amr=["pwd"]
        )
        claims = jwts.verify(token)
    assert (claims.user_id, claims.family_id) == (USER_ID, FAMILY_ID)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == algorithm and header["kid"] == jwts.keyring.signer.kid
    body = payload(token)
    assert set(body) == set("sub sid iat exp jti iss aud typ roles scope amr auth_time".split())
    assert body["roles"] == ["admin", "editor"]
    assert body["amr"] == ["pwd"]
    assert body["auth_time"] == int(SIGNED_IN.timestamp())
    assert body["exp"] - body["iat"] == ttl == 900
    assert body["scope"] == ""  # a strategy told no scopes; create_app passes the schema's
    assert HASURA_CLAIMS not in body


def test_hasura_claims_under_the_setting(algorithm):
    jwts = strategy(algorithm, hasura_claims=True)
    user_token, _ = jwts.issue(USER_ID, FAMILY_ID, roles=[])
    admin_token, _ = jwts.issue(USER_ID, FAMILY_ID, roles=["admin", "editor"])
    assert payload(user_token)[HASURA_CLAIMS] == {
        "x-hasura-user-id": USER_ID,
        "x-hasura-default-role": "user",
        "x-hasura-allowed-roles": ["user"],
    }
    assert payload(admin_token)[HASURA_CLAIMS] == {
        "x-hasura-user-id": USER_ID,
        "x-hasura-default-role": "admin",
        "x-hasura-allowed-roles": ["user", "admin", "editor"],
    }
    assert jwts.verify(admin_token).user_id == USER_ID


def test_a_tampered_signature_or_payload_is_refused(algorithm):
    jwts = strategy(algorithm)
    token, _ = jwts.issue(USER_ID, FAMILY_ID)
    head, body, signature = token.split(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    with pytest.raises(InvalidAccessToken):
        jwts.verify(f"{head}.{body}.{flipped}")
    claims = payload(token) | {"sub": str(uuid.uuid4())}
    with pytest.raises(InvalidAccessToken):
        jwts.verify(f"{head}.{segment(claims)}.{signature}")


def test_an_expired_token_is_refused(algorithm):
    jwts = strategy(algorithm)
    with time_machine.travel(T0, tick=False):
        token, ttl = jwts.issue(USER_ID, FAMILY_ID)
    with time_machine.travel(T0 + timedelta(seconds=ttl) + LEEWAY - timedelta(seconds=1), tick=False):
        assert jwts.verify(token).user_id == USER_ID
    with time_machine.travel(T0 + timedelta(seconds=ttl) + LEEWAY + timedelta(seconds=1), tick=False):
        with pytest.raises(InvalidAccessToken):
            jwts.verify(token)


def test_a_token_for_another_audience_or_issuer_is_refused(algorithm):
    ring = fixed_key_ring(algorithm)
    other_audience = JWTStrategy(make_settings(jwt_algorithm=algorithm, jwt_audience="billing"), ring)
    other_issuer = JWTStrategy(make_settings(jwt_algorithm=algorithm, jwt_issuer="https://x.example"), ring)
    ours = JWTStrategy(make_settings(jwt_algorithm=algorithm), ring)
    for foreign in (other_audience, other_issuer):
        token, _ = foreign.issue(USER_ID, FAMILY_ID)
        with pytest.raises(InvalidAccessToken):
            ours.verify(token)


def test_a_token_of_another_key_under_our_kid_is_refused(algorithm):
    ours, theirs = strategy(algorithm), fixed_key_ring(algorithm).signer
    genuine, _ = ours.issue(USER_ID, FAMILY_ID)
    forged = jwt.encode(
        payload(genuine), theirs.key, algorithm=algorithm, headers={"kid": ours.keyring.signer.kid}
    )
    with pytest.raises(InvalidAccessToken):
        ours.verify(forged)


@pytest.mark.parametrize("kid", ["unknown-kid", "", None, "../../etc/passwd"])
def test_an_unknown_or_missing_kid_is_refused(algorithm, kid):
    jwts = strategy(algorithm)
    genuine, _ = jwts.issue(USER_ID, FAMILY_ID)
    signer = jwts.keyring.signer
    headers = {} if kid is None else {"kid": kid}
    token = jwt.encode(payload(genuine), signer.key, algorithm=algorithm, headers=headers)
    if kid is None:  # PyJWT adds no kid of its own
        assert "kid" not in jwt.get_unverified_header(token)
    with pytest.raises(InvalidAccessToken):
        jwts.verify(token)


async def test_a_token_from_a_key_loaded_elsewhere_first_verifies_after_one_reload(algorithm):
    store = MemorySigningKeys()
    with time_machine.travel(T0, tick=False) as clock:
        here = StoredKeyRing(algorithm, store, Secret(TEST_SECRET), reload_interval=30)
        await here.start(background=False)
        # Another instance rotates and signs with its new key (once its lead is over)
        # before this one reloads.
        await add_key(store, algorithm, Secret(TEST_SECRET))
        there = StoredKeyRing(algorithm, store, Secret(TEST_SECRET), reload_interval=30)
        await there.start(background=False)
        clock.shift(timedelta(seconds=PUBLICATION_LEAD + 1))
        settings = make_settings(jwt_algorithm=algorithm)
        token, _ = JWTStrategy(settings, there).issue(USER_ID, FAMILY_ID)
        jwts = JWTStrategy(settings, here)
        with pytest.raises(UnknownKeyId):
            jwts.verify(token)
        assert (await jwts.verify_or_reload(token)).user_id == USER_ID
