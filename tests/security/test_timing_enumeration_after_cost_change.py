"""Telling real accounts from unknown ones by time after `BCRYPT_ROUNDS` was raised: the
dummy check of an unknown user runs at today's cost, a stored hash at the cost it was made
with. A wrong password against an older, cheaper hash must cost the same bcrypt work as the
dummy check (the missing work is done, as Django's `harden_runtime` does), and a success
upgrades the hash. The proof counts bcrypt work (2**cost per computation), not time; one
coarse timing test with a wide margin backs it up."""

from __future__ import annotations

import statistics
import threading
import time

import bcrypt
import pytest

from auth.passwords import BcryptHasher
from models import User
from tests.helpers import (
    LOGIN,
    ME,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    OpenApp,
    basic,
    gql,
    login_variables,
    make_persona,
    make_settings,
)

CURRENT = 6
STALE = 4


class BcryptWork:
    """Counts bcrypt work units (2**cost for each hash computed), from any thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.units = 0
        self._lock = threading.Lock()
        real_hashpw, real_checkpw = bcrypt.hashpw, bcrypt.checkpw

        # Counted once bcrypt accepted the input: a refused hash costs no work.
        def hashpw(password: bytes, salt: bytes) -> bytes:
            hashed = real_hashpw(password, salt)
            self._add(salt)
            return hashed

        def checkpw(password: bytes, hashed: bytes) -> bool:
            matched = real_checkpw(password, hashed)
            self._add(hashed)
            return matched

        monkeypatch.setattr(bcrypt, "hashpw", hashpw)
        monkeypatch.setattr(bcrypt, "checkpw", checkpw)

    def _add(self, salt_or_hash: bytes) -> None:
        cost = int(salt_or_hash.split(b"$")[2])
        with self._lock:
            self.units += 2**cost

    def take(self) -> int:
        """The units spent since the last call."""
        with self._lock:
            spent, self.units = self.units, 0
        return spent


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> BcryptWork:
    return BcryptWork(monkeypatch)


async def stale_hash(password: str = STRONG_PASSWORD, rounds: int = STALE) -> str:
    return await BcryptHasher(rounds=rounds).hash(password)


# -- the hasher ---------------------------------------------------------------------


async def test_a_wrong_password_against_a_cheaper_hash_costs_one_check_at_todays_cost(work):
    hasher = BcryptHasher(rounds=CURRENT)
    stored = await stale_hash()
    await hasher.verify_dummy("warm-up")  # the dummy hash is made once per process
    work.take()

    assert not await hasher.verify(OTHER_PASSWORD, stored)
    wrong = work.take()
    await hasher.verify_dummy(OTHER_PASSWORD)
    unknown = work.take()

    assert unknown == 2**CURRENT
    assert wrong == unknown


async def test_a_right_password_against_a_cheaper_hash_costs_the_same_too(work):
    """A disabled account is refused after the check: right or wrong, it must cost the same."""
    hasher = BcryptHasher(rounds=CURRENT)
    stored = await stale_hash()
    work.take()
    assert await hasher.verify(STRONG_PASSWORD, stored)
    assert work.take() == 2**CURRENT


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$2b$04$short", "$argon2id$v=19$m=65536"])
async def test_an_unreadable_stored_hash_costs_a_full_check(work, stored):
    hasher = BcryptHasher(rounds=CURRENT)
    await hasher.verify_dummy("warm-up")
    work.take()
    assert not await hasher.verify(STRONG_PASSWORD, stored)
    assert work.take() == 2**CURRENT


async def test_a_hash_at_todays_cost_costs_one_check(work):
    hasher = BcryptHasher(rounds=CURRENT)
    stored = await hasher.hash(STRONG_PASSWORD)
    work.take()
    assert not await hasher.verify(OTHER_PASSWORD, stored)
    assert work.take() == 2**CURRENT


# -- through the server ---------------------------------------------------------------


async def test_failed_logins_cost_the_same_work_whatever_the_stored_cost(open_app: OpenApp, work):
    client = await open_app(make_settings(bcrypt_rounds=CURRENT))
    alice = await make_persona(client, "alice")
    dormant = await make_persona(client, "dormant")
    await User.filter(id=alice.id).update(password_hash=await stale_hash())
    await User.filter(id=dormant.id).update(password_hash=await stale_hash(), is_active=False)
    await gql(client, LOGIN, login_variables("warm_up", OTHER_PASSWORD), cookies=False)
    work.take()

    spent = {}
    for name, (login, password) in {
        "unknown": ("nobody_here", OTHER_PASSWORD),
        "wrong-password": ("alice", OTHER_PASSWORD),
        "disabled-right-password": ("dormant", STRONG_PASSWORD),
    }.items():
        result = await gql(client, LOGIN, login_variables(login, password), cookies=False)
        assert result.status == 401, result.body
        spent[name] = work.take()

    assert spent == dict.fromkeys(spent, 2**CURRENT)


async def test_failed_basic_headers_cost_the_same_work_whatever_the_stored_cost(open_app: OpenApp, work):
    client = await open_app(make_settings(bcrypt_rounds=CURRENT))
    alice = await make_persona(client, "alice")
    await User.filter(id=alice.id).update(password_hash=await stale_hash())
    await gql(client, ME, headers=basic("warm_up", OTHER_PASSWORD), cookies=False)
    work.take()

    await gql(client, ME, headers=basic("nobody_here", OTHER_PASSWORD), cookies=False)
    unknown = work.take()
    await gql(client, ME, headers=basic("alice", OTHER_PASSWORD), cookies=False)
    wrong = work.take()

    assert unknown == wrong == 2**CURRENT


async def test_a_basic_sign_in_upgrades_a_cheaper_hash(open_app: OpenApp):
    client = await open_app(make_settings(bcrypt_rounds=CURRENT))
    alice = await make_persona(client, "alice")
    await User.filter(id=alice.id).update(password_hash=await stale_hash())

    result = await gql(client, ME, headers=basic("alice", STRONG_PASSWORD), cookies=False)

    assert result.status == 200 and result.data["me"]["username"] == "alice", result.body
    assert (await User.get(id=alice.id)).password_hash.startswith(f"$2b$0{CURRENT}$")


async def test_a_login_lowers_a_hash_made_at_a_higher_cost(open_app: OpenApp):
    """After lowering the cost, accounts with the older, dearer hash are slower to refuse
    than unknown ones until they next sign in; that sign-in re-hashes at today's cost."""
    client = await open_app(make_settings(bcrypt_rounds=STALE))
    alice = await make_persona(client, "alice")
    await User.filter(id=alice.id).update(password_hash=await stale_hash(rounds=CURRENT))

    result = await gql(client, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)

    assert result.status == 200, result.body
    assert (await User.get(id=alice.id)).password_hash.startswith(f"$2b$0{STALE}$")


async def test_a_rehash_never_overwrites_a_password_changed_meanwhile(open_app: OpenApp, monkeypatch):
    """The upgrade writes only over the hash it verified: a password changed between the
    check and the write stays changed."""
    client = await open_app(make_settings(bcrypt_rounds=CURRENT))
    alice = await make_persona(client, "alice")
    await User.filter(id=alice.id).update(password_hash=await stale_hash())
    changed = await BcryptHasher(rounds=CURRENT).hash(OTHER_PASSWORD)
    real_verify = BcryptHasher.verify

    async def verify_then_change(self, password, password_hash):  # type: ignore[no-untyped-def]
        ok = await real_verify(self, password, password_hash)
        await User.filter(id=alice.id).update(password_hash=changed)  # a concurrent changePassword
        return ok

    monkeypatch.setattr(BcryptHasher, "verify", verify_then_change)
    await gql(client, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)

    assert (await User.get(id=alice.id)).password_hash == changed


# -- coarse timing, wide margin -------------------------------------------------------

TIMED_PAIRS = 51
# Measured on 2 cores at load average 4 with a busy loop on one core: fixed, both ratios
# 0.93 to 1.17; without the missing work (4 times cheaper at this cost gap, plus the
# constant part of a check) 0.28 to 0.35, idle or loaded.
ABOUT_THE_SAME = (0.55, 1.8)


async def test_wrong_password_and_unknown_user_take_about_the_same_time():
    """Today's cost 6 against a stored cost 4: a quarter of the work before the fix, the
    same after. Wrong-password and unknown-user checks alternate, so both see the same
    load; the wall-clock ratio is the median of the pairs' ratios, the CPU-time ratio (this
    process's, which the scheduler cannot stretch) the ratio of the medians."""
    hasher = BcryptHasher(rounds=CURRENT)
    stored = await stale_hash()
    await hasher.verify_dummy("warm-up")

    async def wrong() -> None:
        assert not await hasher.verify(OTHER_PASSWORD, stored)

    async def unknown() -> None:
        await hasher.verify_dummy(OTHER_PASSWORD)

    async def timed(check) -> tuple[float, float]:  # type: ignore[no-untyped-def]
        wall, cpu = time.perf_counter(), time.process_time()
        await check()
        return time.perf_counter() - wall, time.process_time() - cpu

    wall_ratios, wrong_cpu, unknown_cpu = [], [], []
    for n in range(TIMED_PAIRS):
        if n % 2:
            (w_wall, w_cpu), (u_wall, u_cpu) = await timed(wrong), await timed(unknown)
        else:
            (u_wall, u_cpu), (w_wall, w_cpu) = await timed(unknown), await timed(wrong)
        wall_ratios.append(w_wall / u_wall)
        wrong_cpu.append(w_cpu)
        unknown_cpu.append(u_cpu)
    wall = statistics.median(wall_ratios)
    cpu = statistics.median(wrong_cpu) / statistics.median(unknown_cpu)

    low, high = ABOUT_THE_SAME
    assert low < wall < high, (wall, cpu)
    assert low < cpu < high, (wall, cpu)
