"""auth/token_encryption.py: the JWE envelope of access tokens (ACCESS_TOKEN_ENCRYPTION),
each refusal of docs/SECURITY.md on its own, and key rotation through PREVIOUS_SECRET_KEYS."""

from __future__ import annotations

import json
import zlib

import jwt
import pytest
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from auth import token_encryption
from auth.secrets import derive_key
from auth.strategy.jwt import InvalidAccessToken, JWTStrategy
from auth.token_encryption import (
    MAX_SEALED_BYTES,
    EncryptedTokens,
    PlainTokens,
    UnreadableToken,
    token_envelope,
)
from core.settings import Secret, Settings, SettingsError
from tests.helpers import TEST_SECRET, make_settings
from tests.helpers.sealed import b64, content_key, flip_first_byte, replace_segment, seal_with
from tests.helpers.sealed import jwe_header as header_of

OTHER_SECRET = "another-secret-key-that-is-long-enough-9876543210"
JWS = jwt.encode({"sub": "u1", "sid": "f1"}, "k" * 32, algorithm="HS256")


@pytest.fixture
def sealer() -> EncryptedTokens:
    return EncryptedTokens([TEST_SECRET])


# -- the form ---------------------------------------------------------------------------


def test_a_sealed_token_is_a_compact_jwe_dir_a256gcm_nesting_the_jws(sealer):
    token = sealer.seal(JWS)
    assert token.count(".") == 4
    header = header_of(token)
    assert header == {"alg": "dir", "enc": "A256GCM", "cty": "JWT", "kid": header["kid"]}
    assert token.split(".")[1] == ""  # dir: no encrypted key
    assert sealer.open(token) == JWS
    # The plaintext is nowhere in the token, and each sealing draws a new IV.
    assert JWS.split(".")[1] not in token
    assert sealer.seal(JWS) != token


def test_the_content_key_is_the_secret_s_own_sub_key_not_the_signing_key(sealer):
    token = sealer.seal(JWS)
    opened = jwe.decrypt_compact(token, content_key(), algorithms=["dir", "A256GCM"])
    assert opened.plaintext == JWS.encode()
    signing_key = OctKey.import_key(derive_key(TEST_SECRET, "jwt/v1"))
    with pytest.raises(JoseError):  # a wrong key fails the tag check
        jwe.decrypt_compact(token, signing_key, algorithms=["dir", "A256GCM"])


def test_pyjwt_cannot_read_a_sealed_token(sealer):
    with pytest.raises(jwt.DecodeError):
        jwt.decode(sealer.seal(JWS), options={"verify_signature": False})


# -- refusals ---------------------------------------------------------------------------


def test_a_zip_header_is_refused_before_anything_is_inflated(sealer, monkeypatch):
    bomb = zlib.compress(b"0" * 2_000_000, 9)[2:-4]  # raw DEFLATE, as JWE's DEF is
    kid = header_of(sealer.seal(JWS))["kid"]
    header = {"alg": "dir", "enc": "A256GCM", "zip": "DEF", "cty": "JWT", "kid": kid}
    token = seal_with(header, zlib.decompress(bomb, -15), ["dir", "A256GCM", "DEF"], content_key())
    assert len(token) < MAX_SEALED_BYTES  # small on the wire: two megabytes inflated

    def must_not_inflate(*args, **kwargs):
        raise AssertionError("inflated a compressed token")

    monkeypatch.setattr(zlib, "decompress", must_not_inflate)
    monkeypatch.setattr(zlib, "decompressobj", must_not_inflate)
    with pytest.raises(UnreadableToken, match="zip"):
        sealer.open(token)


def test_joserfc_alone_would_also_refuse_zip_with_this_registry(sealer):
    """The second wall: even past the header check, the registry allows no zip algorithm."""
    kid = header_of(sealer.seal(JWS))["kid"]
    token = seal_with(
        {"alg": "dir", "enc": "A256GCM", "zip": "DEF", "kid": kid},
        JWS.encode(),
        ["dir", "A256GCM", "DEF"],
        content_key(),
    )
    with pytest.raises(JoseError, match="DEF"):
        jwe.decrypt_compact(token, content_key(), registry=token_encryption.REGISTRY)


@pytest.mark.parametrize(
    ("alg", "enc", "key"),
    [
        ("dir", "A128GCM", OctKey.import_key(derive_key(TEST_SECRET, "jwe/v1")[:16])),
        ("dir", "A256CBC-HS512", OctKey.import_key(derive_key(TEST_SECRET, "jwe/v1") * 2)),
        ("A256KW", "A256GCM", OctKey.import_key(derive_key(TEST_SECRET, "jwe/v1"))),
        ("A256GCMKW", "A256GCM", OctKey.import_key(derive_key(TEST_SECRET, "jwe/v1"))),
    ],
)
def test_any_other_alg_or_enc_is_refused(sealer, alg, enc, key):
    kid = header_of(sealer.seal(JWS))["kid"]
    token = seal_with({"alg": alg, "enc": enc, "cty": "JWT", "kid": kid}, JWS.encode(), [alg, enc], key)
    with pytest.raises(UnreadableToken, match="algorithm"):
        sealer.open(token)


def test_alg_none_and_an_encrypted_key_segment_are_refused(sealer):
    token = sealer.seal(JWS)
    kid = header_of(token)["kid"]
    none_header = b64(json.dumps({"alg": "none", "enc": "A256GCM", "cty": "JWT", "kid": kid}).encode())
    with pytest.raises(UnreadableToken, match="algorithm"):
        sealer.open(replace_segment(token, 0, none_header))
    with pytest.raises(UnreadableToken, match="encrypted key"):
        sealer.open(replace_segment(token, 1, b64(b"k" * 32)))


@pytest.mark.parametrize(
    "extra",
    [{"crit": ["exp"], "exp": 1}, {"jku": "https://evil.example/jwks"}, {"jwk": {"kty": "oct", "k": "AA"}}],
)
def test_header_parameters_beyond_alg_enc_cty_kid_are_refused(sealer, extra):
    kid = header_of(sealer.seal(JWS))["kid"]
    header = {"alg": "dir", "enc": "A256GCM", "cty": "JWT", "kid": kid, **extra}
    segment = b64(json.dumps(header).encode())
    with pytest.raises(UnreadableToken, match="unexpected header"):
        sealer.open(replace_segment(sealer.seal(JWS), 0, segment))


def test_an_oversized_token_is_refused_before_parsing(sealer, monkeypatch):
    at_the_limit = sealer.seal("a." + "b" * 5900 + ".c")
    assert len(at_the_limit) <= MAX_SEALED_BYTES
    assert sealer.open(at_the_limit).startswith("a.bbb")
    over = sealer.seal("a." + "b" * 6200 + ".c")
    assert len(over) > MAX_SEALED_BYTES

    def must_not_parse(*args, **kwargs):
        raise AssertionError("parsed an oversized token")

    monkeypatch.setattr(token_encryption, "json_b64decode", must_not_parse)
    monkeypatch.setattr(token_encryption.jwe, "decrypt_compact", must_not_parse)
    with pytest.raises(UnreadableToken, match="too long"):
        sealer.open(over)


@pytest.mark.parametrize(("segment", "name"), [(0, "aad"), (2, "iv"), (3, "ciphertext"), (4, "tag")])
def test_a_changed_bit_in_header_iv_ciphertext_or_tag_is_refused(sealer, segment, name):
    token = sealer.seal(JWS)
    if segment == 0:  # the header is the AAD: change it while keeping it acceptable
        header = header_of(token)
        tampered = replace_segment(token, 0, b64(json.dumps(header, separators=(", ", ": ")).encode()))
    else:
        tampered = replace_segment(token, segment, flip_first_byte(token.split(".")[segment]))
    assert tampered != token
    with pytest.raises(UnreadableToken, match="does not decrypt"):
        sealer.open(tampered)


def test_a_truncated_tag_or_iv_is_refused(sealer):
    token = sealer.seal(JWS)
    for index in (2, 4):
        short = replace_segment(token, index, token.split(".")[index][:-4])
        with pytest.raises(UnreadableToken):
            sealer.open(short)


def test_a_plain_jws_is_refused_when_encryption_is_on(sealer):
    with pytest.raises(UnreadableToken, match="not an encrypted token"):
        sealer.open(JWS)


def test_a_jwe_is_refused_when_encryption_is_off(sealer):
    plain = PlainTokens()
    assert plain.seal(JWS) == JWS and plain.open(JWS) == JWS
    with pytest.raises(UnreadableToken, match="is off"):
        plain.open(sealer.seal(JWS))


def test_garbage_headers_and_contents_are_refused(sealer):
    token = sealer.seal(JWS)
    for header in ("", "!!!", b64(b"[1,2]"), b64(b"{not json"), "\u00e9\u00e9"):
        with pytest.raises(UnreadableToken, match="malformed header"):
            sealer.open(replace_segment(token, 0, header))
    not_a_jws = sealer.seal("no dots at all")
    with pytest.raises(UnreadableToken, match="not a JWS"):
        sealer.open(not_a_jws)


# -- keys ---------------------------------------------------------------------------------


def test_tokens_sealed_under_a_previous_secret_key_open_during_a_rotation():
    before = EncryptedTokens([TEST_SECRET]).seal(JWS)
    rotated = EncryptedTokens([OTHER_SECRET, TEST_SECRET])
    assert rotated.open(before) == JWS
    after = rotated.seal(JWS)
    assert header_of(after)["kid"] != header_of(before)["kid"]  # the new key seals
    assert EncryptedTokens([OTHER_SECRET]).open(after) == JWS
    # Once the old key leaves PREVIOUS_SECRET_KEYS, its tokens stop opening.
    with pytest.raises(UnreadableToken, match="unknown key"):
        EncryptedTokens([OTHER_SECRET]).open(before)


def test_a_token_sealed_under_a_foreign_key_with_a_known_kid_does_not_decrypt(sealer):
    kid = header_of(sealer.seal(JWS))["kid"]
    forged = seal_with(
        {"alg": "dir", "enc": "A256GCM", "cty": "JWT", "kid": kid},
        JWS.encode(),
        ["dir", "A256GCM"],
        content_key(OTHER_SECRET),
    )
    with pytest.raises(UnreadableToken, match="does not decrypt"):
        sealer.open(forged)


# -- the setting ----------------------------------------------------------------------------


def test_the_setting_is_off_by_default_and_read_from_access_token_encryption(tmp_path):
    base = {"SECRET_KEY": TEST_SECRET, "DATABASE_URL": "sqlite://:memory:"}
    assert Settings.from_env(base, secret_file=tmp_path / "k").access_token_encryption is False
    on = Settings.from_env({**base, "ACCESS_TOKEN_ENCRYPTION": "on"}, secret_file=tmp_path / "k")
    assert on.access_token_encryption is True
    off = Settings.from_env({**base, "ACCESS_TOKEN_ENCRYPTION": "off"}, secret_file=tmp_path / "k")
    assert off.access_token_encryption is False
    with pytest.raises(SettingsError, match="ACCESS_TOKEN_ENCRYPTION must be on or off"):
        Settings.from_env({**base, "ACCESS_TOKEN_ENCRYPTION": "maybe"}, secret_file=tmp_path / "k")


def test_the_envelope_follows_the_setting_and_the_previous_keys():
    assert isinstance(token_envelope(make_settings()), PlainTokens)
    old = token_envelope(make_settings(access_token_encryption=True)).seal(JWS)
    rotated = token_envelope(
        make_settings(
            access_token_encryption=True,
            secret_key=Secret(OTHER_SECRET),
            previous_secret_keys=(Secret(TEST_SECRET),),
        )
    )
    assert isinstance(rotated, EncryptedTokens)
    assert rotated.open(old) == JWS


# -- the JWT strategy's hook ------------------------------------------------------------------


def hs256_strategy(**overrides: object) -> JWTStrategy:
    """A strategy that needs no key store (HS256 keys derive from SECRET_KEY)."""
    return JWTStrategy(make_settings(jwt_algorithm="HS256", **overrides))


def test_the_strategy_issues_sealed_tokens_and_verifies_them():
    strategy = hs256_strategy(access_token_encryption=True)
    token, expires_in = strategy.issue("u1", "f1")
    assert token.count(".") == 4 and expires_in == 900
    claims = strategy.verify(token)
    assert (claims.user_id, claims.family_id) == ("u1", "f1")
    with pytest.raises(InvalidAccessToken, match="not an encrypted token"):
        strategy.verify(EncryptedTokens([TEST_SECRET]).open(token))
    plain, _ = hs256_strategy().issue("u1", "f1")
    assert plain.count(".") == 2
    with pytest.raises(InvalidAccessToken, match="not an encrypted token"):
        strategy.verify(plain)
    with pytest.raises(InvalidAccessToken, match="is off"):
        hs256_strategy().verify(token)


def test_the_verified_cache_is_keyed_by_the_exact_sealed_string(monkeypatch):
    strategy = hs256_strategy(access_token_encryption=True)
    token, _ = strategy.issue("u1", "f1")
    opened: list[str] = []
    real_open = strategy.envelope.open

    def counting_open(presented: str) -> str:
        opened.append(presented)
        return real_open(presented)

    monkeypatch.setattr(strategy.envelope, "open", counting_open)
    assert strategy.verify(token).user_id == "u1"
    assert strategy.verify(token).user_id == "u1"
    assert opened == [token]  # the second time came from the cache
    tampered = replace_segment(token, 4, flip_first_byte(token.split(".")[4]))
    with pytest.raises(InvalidAccessToken, match="does not decrypt"):
        strategy.verify(tampered)
    assert opened == [token, tampered]  # never answered from the genuine token's entry
