"""The bcrypt pool: worker threads at a lower priority than the event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import unicodedata

import pytest

from auth.passwords import (
    HASHER_NICENESS,
    PASSWORD_INPUT_MAX,
    PASSWORD_MAX,
    BcryptHasher,
    password_too_long,
    stored_cost,
)


def _own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux-only")
async def test_hashing_threads_run_below_the_event_loop():
    hasher = BcryptHasher(rounds=4, concurrency=2)
    loop_niceness = _own_niceness()
    worker_niceness = await asyncio.get_running_loop().run_in_executor(hasher._pool, _own_niceness)
    assert worker_niceness == HASHER_NICENESS
    assert _own_niceness() == loop_niceness  # the loop's own thread is left alone
    assert await hasher.verify("a password", await hasher.hash("a password"))


async def test_normalising_and_hashing_run_in_the_pool_threads(monkeypatch):
    import auth.passwords

    hasher = BcryptHasher(rounds=4, concurrency=2)
    threads: list[str] = []
    real = auth.passwords.normalise_password

    def recording(password: str) -> str:
        threads.append(threading.current_thread().name)
        return real(password)

    monkeypatch.setattr(auth.passwords, "normalise_password", recording)
    stored = await hasher.hash("a password")
    await hasher.verify("a password", stored)
    await hasher.verify_dummy("a password")
    assert len(threads) == 3 and all(name.startswith("bcrypt") for name in threads), threads


def _characters_a_normalised_password_holds_that_decompose() -> list[str]:
    """Every code point that is its own NFKC form and has a decomposition (Hangul
    syllables decompose by algorithm, so `decomposition` says nothing for them)."""
    found = [chr(cp) for cp in range(sys.maxunicode + 1) if unicodedata.decomposition(chr(cp))]
    found += [chr(cp) for cp in range(0xAC00, 0xD7A4)]
    return [c for c in found if unicodedata.normalize("NFKC", c) == c]


async def test_the_input_bound_leaves_room_for_any_normal_form_of_the_maximum():
    """The longest password (256 characters once normalised) typed in its longest normal
    form still reads and signs in; a character more is refused unread."""
    stable = _characters_a_normalised_password_holds_that_decompose()
    longest = {form: max(len(unicodedata.normalize(form, c)) for c in stable) for form in ("NFD", "NFKD")}
    worst = max(stable, key=lambda c: len(unicodedata.normalize("NFD", c)))
    stored_form = worst * PASSWORD_MAX
    typed = unicodedata.normalize("NFD", stored_form)
    assert len(typed) == max(longest.values()) * PASSWORD_MAX

    assert not password_too_long(typed)
    assert password_too_long(typed + "x")
    hasher = BcryptHasher(rounds=4)
    assert await hasher.verify(typed, await hasher.hash(stored_form))


async def test_over_long_passwords_are_refused_without_work(monkeypatch):
    import bcrypt

    hasher = BcryptHasher(rounds=4)
    stored = await hasher.hash("a password")
    ran: list[object] = []
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: ran.append(a))
    monkeypatch.setattr(bcrypt, "hashpw", lambda *a: ran.append(a))
    too_long_typed, too_long_normalised = "x" * (PASSWORD_INPUT_MAX + 1), "\ufdfa" * 20
    for password in (too_long_typed, too_long_normalised):
        assert not await hasher.verify(password, stored)
        assert await hasher.verify_dummy(password) is None
        with pytest.raises(ValueError):
            await hasher.hash(password)
    assert ran == []


@pytest.mark.parametrize(
    ("stored", "cost"),
    [
        ("$2b$04$abc", 4),
        ("$2a$12$abc", 12),
        ("$2y$10$x", 10),
        ("$2b$xx$abc", None),
        ("", None),
        ("$argon2id$v", None),
    ],
)
def test_stored_cost(stored, cost):
    assert stored_cost(stored) == cost


def test_needs_rehash_for_a_higher_cost_or_another_prefix():
    hasher = BcryptHasher(rounds=4)
    assert hasher.needs_rehash("$2b$05$" + "a" * 53)
    assert hasher.needs_rehash("$2a$04$" + "a" * 53)
    assert not hasher.needs_rehash("$2b$04$" + "a" * 53)
