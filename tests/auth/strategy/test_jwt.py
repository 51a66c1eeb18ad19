"""Access tokens under JWT_ALGORITHM=HS256: round trip, expiry, tampering, algorithms,
claims, size and key rotation through SECRET_KEY / PREVIOUS_SECRET_KEYS. The same cases for
EdDSA and ES256 keys from the database are in test_jwt_asymmetric.py."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine

from auth.keyring import HMAC_ALGORITHM as ALGORITHM
from auth.secrets import derive_key
from auth.strategy.jwt import (
    LEEWAY,
    MAX_TOKEN_BYTES,
    REQUIRED_CLAIMS,
    AccessClaims,
    InvalidAccessToken,
    JWTStrategy,
)
from core.settings import Secret
from tests.helpers import TEST_SECRET, make_settings

OLD_SECRET = "an-old-secret-key-retired-at-the-last-rotation-000"
NEW_SECRET = "the-new-secret-key-that-signs-everything-now-11111"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
USER_ID = str(uuid.uuid4())
FAMILY_ID = str(uuid.uuid4())


def strategy(secret: str = TEST_SECRET, previous: tuple[str, ...] = (), **overrides: Any) -> JWTStrategy:
    return JWTStrategy(
        make_settings(
            secret_key=Secret(secret),
            previous_secret_keys=tuple(Secret(p) for p in previous),
            jwt_algorithm="HS256",
            **overrides,
        )
    )


def key_and_kid(secret: str = TEST_SECRET) -> tuple[bytes, str]:
    """The signing key derived from `secret` and the `kid` naming it, as the server computes them."""
    key = derive_key(secret, "jwt/v1")
    return key, hashlib.sha256(key).hexdigest()[:16]


def good_claims(now: datetime = T0) -> dict[str, Any]:
    return {
        "sub": USER_ID,
        "sid": FAMILY_ID,
        "iat": now,
        "exp": now + timedelta(minutes=15),
        "jti": uuid.uuid4().hex,
        "iss": "gatehouse",
        "aud": "gatehouse",
        "typ": "access",
    }


def forge(
    claims: dict[str, Any],
    secret: str = TEST_SECRET,
    algorithm: str = ALGORITHM,
    kid: str | None = "derive",
) -> str:
    """A token signed like the server signs, with whatever claims and header the test wants."""
    key, derived_kid = key_and_kid(secret)
    headers = {} if kid is None else {"kid": derived_kid if kid == "derive" else kid}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- round trip ---------------------------------------------------------------------


def test_issue_then_verify_round_trips():
    jwts = strategy()
    token, ttl = jwts.issue(USER_ID, FAMILY_ID)
    claims = jwts.verify(token)
    assert claims.user_id == USER_ID
    assert claims.family_id == FAMILY_ID
    assert ttl == 900
    assert claims == AccessClaims(user_id=USER_ID, family_id=FAMILY_ID)
    assert len(jwt.decode(token, options={"verify_signature": False})["jti"]) == 32


def test_issued_token_carries_the_contract_claims_and_kid():
    jwts = strategy()
    with time_machine.travel(T0, tick=False):
        token, ttl = jwts.issue(USER_ID, FAMILY_ID)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    assert header["kid"] == key_and_kid()[1]
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(REQUIRED_CLAIMS) <= set(payload)
    assert payload["typ"] == "access"
    assert payload["iat"] == int(T0.timestamp())
    assert payload["exp"] - payload["iat"] == ttl


def test_the_scope_claim_names_every_scope_it_was_given_space_separated():
    """Contract section 9: an access token carries all of its user's rights, so `scope`
    (RFC 9068) names every scope of the served schema, sorted, once each."""
    jwts = JWTStrategy(
        make_settings(jwt_algorithm="HS256"), scopes=["users:write", "notes:read", "users:read", "notes:read"]
    )
    token, _ = jwts.issue(USER_ID, FAMILY_ID)

    assert (
        jwt.decode(token, options={"verify_signature": False})["scope"] == "notes:read users:read users:write"
    )
    assert jwts.verify(token).claims["scope"] == "notes:read users:read users:write"


def test_every_token_has_its_own_jti():
    jwts = strategy()
    first, _ = jwts.issue(USER_ID, FAMILY_ID)
    second, _ = jwts.issue(USER_ID, FAMILY_ID)
    jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in (first, second)}
    assert len(jtis) == 2
    # Both verify: the jti makes each token unique, the server keeps nothing by it.
    assert jwts.verify(first) == jwts.verify(second)


def test_lifetime_follows_the_setting():
    jwts = strategy(access_token_ttl=300)
    with time_machine.travel(T0, tick=False):
        token, ttl = jwts.issue(USER_ID, FAMILY_ID)
    assert ttl == 300
    with time_machine.travel(T0 + timedelta(seconds=300) + LEEWAY + timedelta(seconds=1), tick=False):
        with pytest.raises(InvalidAccessToken):
            jwts.verify(token)


def test_a_forged_token_with_good_claims_verifies():
    """Control for the tampering tests below: `forge` signs exactly as the server does."""
    with time_machine.travel(T0, tick=False):
        assert strategy().verify(forge(good_claims())).user_id == USER_ID


# -- expiry -------------------------------------------------------------------------


def test_token_verifies_until_it_expires_then_never_again():
    jwts = strategy()
    with time_machine.travel(T0, tick=False):
        token, ttl = jwts.issue(USER_ID, FAMILY_ID)
    with time_machine.travel(T0 + timedelta(seconds=ttl - 1), tick=False):
        assert jwts.verify(token).user_id == USER_ID
    with time_machine.travel(T0 + timedelta(seconds=ttl) + LEEWAY + timedelta(seconds=1), tick=False):
        with pytest.raises(InvalidAccessToken):
            jwts.verify(token)
    with time_machine.travel(T0 + timedelta(days=365), tick=False):
        with pytest.raises(InvalidAccessToken):
            jwts.verify(token)


def test_leeway_is_small():
    assert timedelta(0) < LEEWAY <= timedelta(seconds=60)


def test_token_issued_in_the_future_is_refused():
    claims = good_claims(T0 + timedelta(hours=1))
    with time_machine.travel(T0, tick=False):
        with pytest.raises(InvalidAccessToken):
            strategy().verify(forge(claims))


# -- tampering ----------------------------------------------------------------------


def test_tampered_signature_is_refused():
    jwts = strategy()
    token, _ = jwts.issue(USER_ID, FAMILY_ID)
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(InvalidAccessToken):
        jwts.verify(f"{head}.{body}.{flipped}")


def test_tampered_payload_is_refused():
    jwts = strategy()
    token, _ = jwts.issue(USER_ID, FAMILY_ID)
    head, _, signature = token.split(".")
    payload = jwt.decode(token, options={"verify_signature": False})
    payload["sub"] = str(uuid.uuid4())
    with pytest.raises(InvalidAccessToken):
        jwts.verify(f"{head}.{b64url(payload)}.{signature}")


def test_token_signed_with_another_secret_is_refused():
    other_key = derive_key("someone-elses-secret-key-0123456789abcdef", "jwt/v1")
    token = jwt.encode(
        good_claims(datetime.now(UTC)), other_key, algorithm="HS256", headers={"kid": key_and_kid()[1]}
    )
    with pytest.raises(InvalidAccessToken):
        strategy().verify(token)


def test_token_signed_with_the_raw_secret_instead_of_the_derived_key_is_refused():
    token = jwt.encode(
        good_claims(datetime.now(UTC)), TEST_SECRET, algorithm="HS256", headers={"kid": key_and_kid()[1]}
    )
    with pytest.raises(InvalidAccessToken):
        strategy().verify(token)


@pytest.mark.parametrize("value", ["", "garbage", "a.b", "a.b.c", "a.b.c.d", "..", "Bearer x.y.z"])
def test_garbage_is_refused(value):
    with pytest.raises(InvalidAccessToken):
        strategy().verify(value)


# -- algorithms ---------------------------------------------------------------------


# Forging with HS384/HS512 under a 32-byte key warns; the warning is about the forgery.
forging_warning = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@forging_warning
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms_are_refused(algorithm):
    with time_machine.travel(T0, tick=False):
        with pytest.raises(InvalidAccessToken):
            strategy().verify(forge(good_claims(), algorithm=algorithm))


@pytest.mark.parametrize("alg_name", ["none", "None", "NONE"])
def test_unsigned_tokens_are_refused(alg_name):
    _, kid = key_and_kid()
    claims = {
        k: int(v.timestamp()) if isinstance(v, datetime) else v
        for k, v in good_claims(datetime.now(UTC)).items()
    }
    header = {"alg": alg_name, "typ": "JWT", "kid": kid}
    unsigned = f"{b64url(header)}.{b64url(claims)}."
    with pytest.raises(InvalidAccessToken):
        strategy().verify(unsigned)


def test_pyjwt_none_algorithm_token_is_refused():
    claims = good_claims(datetime.now(UTC))
    token = jwt.encode(claims, None, algorithm="none", headers={"kid": key_and_kid()[1]})
    with pytest.raises(InvalidAccessToken):
        strategy().verify(token)


@forging_warning
def test_header_claiming_hs256_over_another_signature_is_refused():
    """The header says HS256 but the signature was made with HS512 under the same key."""
    with time_machine.travel(T0, tick=False):
        hs512 = forge(good_claims(), algorithm="HS512")
        _, body, signature = hs512.split(".")
        header = jwt.get_unverified_header(hs512)
        header["alg"] = "HS256"
        with pytest.raises(InvalidAccessToken):
            strategy().verify(f"{b64url(header)}.{body}.{signature}")


# -- claims -------------------------------------------------------------------------


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_each_required_claim_is_required(claim):
    claims = good_claims()
    del claims[claim]
    with time_machine.travel(T0, tick=False):
        with pytest.raises(InvalidAccessToken):
            strategy().verify(forge(claims))


def test_required_claims_cover_the_contract():
    assert {"sub", "exp", "iat", "jti", "iss", "aud", "typ"} <= set(REQUIRED_CLAIMS)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("iss", "someone-else"),
        ("iss", ""),
        ("aud", "another-service"),
        ("aud", ["another-service"]),
        ("typ", "refresh"),
        ("typ", "ACCESS"),
        ("typ", None),
        ("sub", 42),
        ("sid", 42),
        ("jti", 42),
        ("sid", None),
    ],
)
def test_wrong_claim_values_are_refused(claim, value):
    claims = good_claims()
    claims[claim] = value
    with time_machine.travel(T0, tick=False):
        with pytest.raises(InvalidAccessToken):
            strategy().verify(forge(claims))


def test_audience_list_containing_ours_is_accepted():
    """RFC 7519 allows `aud` to be a list; ours being in it is enough."""
    claims = good_claims()
    claims["aud"] = ["another-service", "gatehouse"]
    with time_machine.travel(T0, tick=False):
        assert strategy().verify(forge(claims)).user_id == USER_ID


def test_issuer_and_audience_follow_the_settings():
    jwts = strategy(jwt_issuer="https://auth.example", jwt_audience="api.example")
    token, _ = jwts.issue(USER_ID, FAMILY_ID)
    assert jwts.verify(token).user_id == USER_ID
    with pytest.raises(InvalidAccessToken):
        strategy().verify(token)


# -- size ---------------------------------------------------------------------------


def test_token_over_8_kib_is_refused_before_parsing():
    claims = good_claims()
    claims["padding"] = "p" * (MAX_TOKEN_BYTES + 100)
    with time_machine.travel(T0, tick=False):
        token = forge(claims)
        assert len(token) > MAX_TOKEN_BYTES
        with pytest.raises(InvalidAccessToken, match="too long"):
            strategy().verify(token)


def test_padded_token_under_the_limit_still_verifies():
    """Control: padding alone is not what makes the oversized token fail."""
    claims = good_claims()
    claims["padding"] = "p" * 1000
    with time_machine.travel(T0, tick=False):
        token = forge(claims)
        assert len(token) <= MAX_TOKEN_BYTES
        assert strategy().verify(token).user_id == USER_ID


# -- key rotation -------------------------------------------------------------------


def test_token_signed_with_a_previous_key_verifies_while_that_key_is_kept():
    old_token, _ = strategy(OLD_SECRET).issue(USER_ID, FAMILY_ID)
    rotated = strategy(NEW_SECRET, previous=(OLD_SECRET,))
    assert rotated.verify(old_token).user_id == USER_ID


def test_token_signed_with_a_previous_key_fails_once_the_key_is_removed():
    old_token, _ = strategy(OLD_SECRET).issue(USER_ID, FAMILY_ID)
    with pytest.raises(InvalidAccessToken):
        strategy(NEW_SECRET).verify(old_token)


def test_after_rotation_the_newest_key_signs():
    rotated = strategy(NEW_SECRET, previous=(OLD_SECRET,))
    token, _ = rotated.issue(USER_ID, FAMILY_ID)
    assert jwt.get_unverified_header(token)["kid"] == key_and_kid(NEW_SECRET)[1]
    assert strategy(NEW_SECRET).verify(token).user_id == USER_ID
    with pytest.raises(InvalidAccessToken):
        strategy(OLD_SECRET).verify(token)


def test_several_previous_keys_all_verify():
    third = "an-even-older-secret-key-from-two-rotations-ago-22"
    rotated = strategy(NEW_SECRET, previous=(OLD_SECRET, third))
    for secret in (NEW_SECRET, OLD_SECRET, third):
        token, _ = strategy(secret).issue(USER_ID, FAMILY_ID)
        assert rotated.verify(token).user_id == USER_ID


def test_kid_must_match_the_signing_key():
    """An old-key token relabelled with the new key's kid is refused: kid picks the key."""
    with time_machine.travel(T0, tick=False):
        token = forge(good_claims(), secret=OLD_SECRET, kid=key_and_kid(NEW_SECRET)[1])
        with pytest.raises(InvalidAccessToken):
            strategy(NEW_SECRET, previous=(OLD_SECRET,)).verify(token)


@pytest.mark.parametrize("kid", ["0123456789abcdef", "", "../../etc/passwd", None])
def test_unknown_or_missing_kid_is_refused(kid):
    with time_machine.travel(T0, tick=False):
        token = forge(good_claims(), kid=kid)
        with pytest.raises(InvalidAccessToken):
            strategy().verify(token)


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch):
    jwts = strategy()
    token, _ = jwts.issue(USER_ID, FAMILY_ID)
    decodes: list[str] = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append("x") or real_decode(*a, **k))
    for _ in range(3):
        assert jwts.verify(token).family_id == FAMILY_ID
    assert len(decodes) == 1
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidAccessToken):
        jwts.verify(tampered)  # a different string is verified on its own


def test_a_family_end_before_the_ttl_caps_the_expiry():
    s = strategy()
    end = T0 + timedelta(minutes=4, seconds=30, microseconds=900)
    with time_machine.travel(T0, tick=False):
        token, expires_in = s.issue(USER_ID, FAMILY_ID, not_after=end)
        claims = jwt.decode(token, options={"verify_signature": False})
    # Whole seconds, rounded down: the token never outlives the family.
    assert claims["exp"] == int((T0 + timedelta(minutes=4, seconds=30)).timestamp())
    assert expires_in == 270


def test_a_family_end_after_the_ttl_changes_nothing():
    s = strategy()
    with time_machine.travel(T0, tick=False):
        token, expires_in = s.issue(USER_ID, FAMILY_ID, not_after=T0 + timedelta(days=1))
        claims = jwt.decode(token, options={"verify_signature": False})
    assert expires_in == s.ttl
    assert claims["exp"] - claims["iat"] == s.ttl


def test_a_family_end_already_past_gives_a_token_that_is_expired_from_the_start():
    s = strategy()
    with time_machine.travel(T0, tick=False):
        token, expires_in = s.issue(USER_ID, FAMILY_ID, not_after=T0 - timedelta(hours=1))
        claims = jwt.decode(token, options={"verify_signature": False})
    assert expires_in == 0
    assert claims["exp"] == int(T0.timestamp())
