"""Password hashing (bcrypt with pre-hash and NFKC) and the login strategy."""

from __future__ import annotations

import bcrypt
import pytest

from auth.passwords import BcryptHasher, normalise_password
from auth.strategy.password import (
    LOGIN_INPUT_MAX,
    NO_ACCOUNT,
    PasswordStrategy,
    login_key,
)
from services.user_rows import UserRows, find_user_by_login
from tests.helpers import OTHER_PASSWORD, STRONG_PASSWORD, CountingHasher


@pytest.fixture
def bcrypt_hasher() -> BcryptHasher:
    return BcryptHasher(rounds=4)


# -- BcryptHasher -------------------------------------------------------------------


async def test_hash_then_verify(bcrypt_hasher):
    password_hash = await bcrypt_hasher.hash(STRONG_PASSWORD)
    assert password_hash.startswith("$2b$04$")
    assert STRONG_PASSWORD not in password_hash
    assert await bcrypt_hasher.verify(STRONG_PASSWORD, password_hash)
    assert not await bcrypt_hasher.verify(OTHER_PASSWORD, password_hash)


async def test_hashes_are_salted(bcrypt_hasher):
    first = await bcrypt_hasher.hash(STRONG_PASSWORD)
    second = await bcrypt_hasher.hash(STRONG_PASSWORD)
    assert first != second
    assert await bcrypt_hasher.verify(STRONG_PASSWORD, second)


async def test_passwords_are_case_sensitive(bcrypt_hasher):
    password_hash = await bcrypt_hasher.hash("Correct Horse Battery")
    assert not await bcrypt_hasher.verify("correct horse battery", password_hash)


async def test_passwords_over_72_bytes_are_not_truncated(bcrypt_hasher):
    shared = "x" * 72
    assert len((shared + "A").encode()) > 72
    password_hash = await bcrypt_hasher.hash(shared + "A")
    assert await bcrypt_hasher.verify(shared + "A", password_hash)
    assert not await bcrypt_hasher.verify(shared + "B", password_hash)
    assert not await bcrypt_hasher.verify(shared, password_hash)


async def test_multibyte_passwords_past_72_bytes_are_not_truncated(bcrypt_hasher):
    shared = "🔑" * 18  # 18 characters, 72 bytes
    assert len(shared.encode()) == 72
    password_hash = await bcrypt_hasher.hash(shared + "🦄")
    assert await bcrypt_hasher.verify(shared + "🦄", password_hash)
    assert not await bcrypt_hasher.verify(shared + "🐉", password_hash)


async def test_the_longest_allowed_password_round_trips(bcrypt_hasher):
    longest = "🦄" * 256  # 256 characters, 1024 bytes
    password_hash = await bcrypt_hasher.hash(longest)
    assert await bcrypt_hasher.verify(longest, password_hash)
    assert not await bcrypt_hasher.verify(longest[:-1] + "🐉", password_hash)


async def test_password_with_nul_byte_is_not_cut_at_the_nul(bcrypt_hasher):
    password_hash = await bcrypt_hasher.hash("before\x00after-one")
    assert not await bcrypt_hasher.verify("before\x00after-two", password_hash)


@pytest.mark.parametrize(
    ("at_set", "at_check"),
    [
        ("\ufb01sh and chips forever", "fish and chips forever"),  # ligature fi
        ("caf\u00e9 latte morning", "cafe\u0301 latte morning"),  # composed vs decomposed
        ("\uff50\uff41\uff53\uff53 wide letters", "pass wide letters"),  # full-width
    ],
)
async def test_the_same_normalisation_applies_at_set_and_at_check(bcrypt_hasher, at_set, at_check):
    assert at_set != at_check
    assert normalise_password(at_set) == normalise_password(at_check)
    password_hash = await bcrypt_hasher.hash(at_set)
    assert await bcrypt_hasher.verify(at_check, password_hash)
    other_hash = await bcrypt_hasher.hash(at_check)
    assert await bcrypt_hasher.verify(at_set, other_hash)


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$2b$04$short", "$argon2id$v=19$m=65536"])
async def test_malformed_stored_hashes_never_match(bcrypt_hasher, stored):
    assert not await bcrypt_hasher.verify(STRONG_PASSWORD, stored)


async def test_needs_rehash_when_the_cost_changes():
    cheap = BcryptHasher(rounds=4)
    password_hash = await cheap.hash(STRONG_PASSWORD)
    assert not cheap.needs_rehash(password_hash)
    assert BcryptHasher(rounds=5).needs_rehash(password_hash)
    assert BcryptHasher(rounds=12).needs_rehash(password_hash)


@pytest.mark.parametrize("stored", ["", "garbage", "$2b$xx$abc"])
def test_needs_rehash_for_unreadable_hashes(stored):
    assert BcryptHasher(rounds=4).needs_rehash(stored)


async def test_verify_dummy_spends_exactly_one_bcrypt_check(bcrypt_hasher, monkeypatch):
    await bcrypt_hasher.verify_dummy("warm-up")  # the dummy hash is made once, lazily
    calls: list[int] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        calls.append(1)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    assert await bcrypt_hasher.verify_dummy(STRONG_PASSWORD) is None
    assert await bcrypt_hasher.verify_dummy("🦄" * 256) is None  # long input is fine too
    assert len(calls) == 2


async def test_verify_dummy_uses_the_configured_cost(monkeypatch):
    hasher = BcryptHasher(rounds=5)
    await hasher.verify_dummy("x")
    assert hasher._dummy_hash is not None
    assert hasher._dummy_hash.startswith(b"$2b$05$")


# -- login lookup -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        ("Alice", ("username_key", "alice")),
        ("  alice  ", ("username_key", "alice")),
        ("Alice@Example.COM", ("email_key", "alice@example.com")),
    ],
)
def test_login_key(login, expected):
    assert login_key(login) == expected


def test_an_over_long_login_is_not_normalised():
    assert login_key("A" * (LOGIN_INPUT_MAX + 1)) == NO_ACCOUNT
    assert login_key(" " * (LOGIN_INPUT_MAX - 5) + "Alice") == ("username_key", "alice")


# -- PasswordStrategy: one hash check, one answer ------------------------------------


async def test_correct_password_returns_the_user(backend, make_user, hasher: CountingHasher):
    user = await make_user("alice")
    passwords = PasswordStrategy(hasher, UserRows())
    hasher.checks = 0
    found = await passwords.authenticate("alice", STRONG_PASSWORD)
    assert found is not None and found.id == user.id
    assert hasher.checks == 1


@pytest.mark.parametrize("login", ["ALICE", "alice@example.com", "Alice@EXAMPLE.com", " alice "])
async def test_login_by_username_or_email_ignoring_case(backend, make_user, hasher, login):
    user = await make_user("alice")
    found = await PasswordStrategy(hasher, UserRows()).authenticate(login, STRONG_PASSWORD)
    assert found is not None and found.id == user.id


async def test_unknown_user_runs_exactly_one_hash_check(backend, make_user, hasher: CountingHasher):
    await make_user("alice")
    passwords = PasswordStrategy(hasher, UserRows())
    hasher.checks = hasher.dummy_checks = 0
    assert await passwords.authenticate("nobody", STRONG_PASSWORD) is None
    assert hasher.checks == 1
    assert hasher.dummy_checks == 1


async def test_wrong_password_runs_exactly_one_hash_check(backend, make_user, hasher: CountingHasher):
    await make_user("alice")
    passwords = PasswordStrategy(hasher, UserRows())
    hasher.checks = hasher.dummy_checks = 0
    assert await passwords.authenticate("alice", OTHER_PASSWORD) is None
    assert hasher.checks == 1
    assert hasher.dummy_checks == 0


async def test_inactive_user_is_refused_after_one_hash_check(backend, make_user, hasher: CountingHasher):
    await make_user("dormant", active=False)
    passwords = PasswordStrategy(hasher, UserRows())
    hasher.checks = 0
    assert await passwords.authenticate("dormant", STRONG_PASSWORD) is None
    assert hasher.checks == 1
    hasher.checks = 0
    assert await passwords.authenticate("dormant", OTHER_PASSWORD) is None
    assert hasher.checks == 1


@pytest.mark.parametrize("login", ["", "   ", "x" * 400 + "@example.com"])
async def test_empty_or_absurd_login_still_costs_one_check(backend, hasher: CountingHasher, login):
    hasher.checks = 0
    assert await PasswordStrategy(hasher, UserRows()).authenticate(login, STRONG_PASSWORD) is None
    assert hasher.checks == 1


async def test_an_over_long_password_is_refused_without_a_check(backend, make_user, hasher: CountingHasher):
    await make_user("alice")
    hasher.checks = 0
    for login in ("alice", "nobody"):
        assert await PasswordStrategy(hasher, UserRows()).authenticate(login, "x" * 1025) is None
    assert hasher.checks == 0


@pytest.mark.parametrize("login", ["ali\x00ce", "alice\x00@example.com", "ali\ud800ce", "\udfff@example.com"])
async def test_logins_no_account_can_have_find_no_one(backend, make_user, hasher: CountingHasher, login):
    await make_user("alice")
    assert await find_user_by_login(login) is None
    hasher.checks = 0
    assert await PasswordStrategy(hasher, UserRows()).authenticate(login, STRONG_PASSWORD) is None
    assert hasher.checks == hasher.dummy_checks == 1


async def test_find_user_by_login_ignores_case(backend, make_user):
    user = await make_user("Mixed_Case")
    for login in ("mixed_case", "MIXED_CASE", "mixed_case@EXAMPLE.com"):
        found = await find_user_by_login(login)
        assert found is not None and found.id == user.id
    assert await find_user_by_login("mixed") is None
