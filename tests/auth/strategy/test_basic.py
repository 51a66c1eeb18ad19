"""HTTP Basic: verified on each request, with a short cache that a password change defeats."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from auth.basic_cache import BasicCacheEntry, MemoryBasicCache, RedisBasicCache, hash_fingerprint
from auth.errors import CredentialRejected
from auth.strategy.basic import BasicCredentials, BasicStrategy, decode_basic
from auth.strategy.password import PasswordStrategy
from core.errors import ErrorCode
from models import User
from services.user_rows import UserRows
from tests.helpers import OTHER_PASSWORD, STRONG_PASSWORD, TEST_REDIS_URL, CountingHasher

CACHE_KEY = b"k" * 32


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def basic(login: str, password: str) -> str:
    return base64.b64encode(f"{login}:{password}".encode()).decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> MemoryBasicCache:
    return MemoryBasicCache(CACHE_KEY, ttl=60, clock=clock)


@pytest.fixture
def strategy(backend, hasher: CountingHasher, cache: MemoryBasicCache) -> BasicStrategy:
    return BasicStrategy(PasswordStrategy(hasher, UserRows()), cache, UserRows())


# -- BasicStrategy ------------------------------------------------------------------


async def test_right_credentials_give_the_user(strategy, make_user):
    user = await make_user("alice")
    found = await strategy.authenticate(basic("alice", STRONG_PASSWORD))
    assert found is not None and found.id == user.id


async def test_login_may_be_the_email(strategy, make_user):
    user = await make_user("alice")
    found = await strategy.authenticate(basic("Alice@Example.com", STRONG_PASSWORD))
    assert found is not None and found.id == user.id


async def test_cache_hit_avoids_a_second_hash_check(strategy, make_user, hasher):
    user = await make_user("alice")
    header = basic("alice", STRONG_PASSWORD)
    hasher.checks = 0
    assert (await strategy.authenticate(header)).id == user.id
    assert hasher.checks == 1
    for _ in range(3):
        assert (await strategy.authenticate(header)).id == user.id
    assert hasher.checks == 1


class CountingLimiter:
    """Records password attempts; refuses none."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    async def login_attempt(self, login: str, ip: str | None) -> None:
        self.attempts.append(login)

    async def login_succeeded(self, login: str) -> None:
        pass


async def test_a_burst_of_one_header_is_one_password_attempt(backend, hasher, cache, make_user):
    """Sixteen connections sending the same uncached header: one bcrypt check, one attempt
    against the rate limits, and every connection gets the user."""
    import asyncio

    limiter = CountingLimiter()
    strategy = BasicStrategy(PasswordStrategy(hasher, UserRows()), cache, UserRows(), limiter)  # type: ignore[arg-type]
    user = await make_user("alice")
    hasher.checks = 0
    found = await asyncio.gather(*(strategy.authenticate(basic("alice", STRONG_PASSWORD)) for _ in range(16)))
    assert {u.id for u in found} == {user.id}
    assert hasher.checks == 1 and limiter.attempts == ["alice"]
    assert not strategy._in_flight


async def test_a_burst_with_a_wrong_password_is_one_attempt_too(backend, hasher, cache, make_user):
    import asyncio

    limiter = CountingLimiter()
    strategy = BasicStrategy(PasswordStrategy(hasher, UserRows()), cache, UserRows(), limiter)  # type: ignore[arg-type]
    await make_user("alice")
    found = await asyncio.gather(*(strategy.authenticate(basic("alice", OTHER_PASSWORD)) for _ in range(8)))
    assert found == [None] * 8
    assert limiter.attempts == ["alice"]
    assert await strategy.authenticate(basic("alice", OTHER_PASSWORD)) is None  # a later one counts again
    assert limiter.attempts == ["alice", "alice"]


async def test_a_waiter_that_goes_away_leaves_the_check_to_the_others(strategy, make_user, hasher):
    import asyncio

    user = await make_user("alice")
    header = basic("alice", STRONG_PASSWORD)
    leaving = asyncio.ensure_future(strategy.authenticate(header))
    staying = asyncio.ensure_future(strategy.authenticate(header))
    await asyncio.sleep(0)
    leaving.cancel()
    assert (await staying).id == user.id
    assert leaving.cancelled()


async def test_wrong_password_is_never_cached(strategy, make_user, hasher):
    await make_user("alice")
    header = basic("alice", OTHER_PASSWORD)
    hasher.checks = 0
    assert await strategy.authenticate(header) is None
    assert await strategy.authenticate(header) is None
    assert hasher.checks == 2


async def test_unknown_user_costs_one_check_each_time(strategy, hasher, backend):
    hasher.checks = 0
    assert await strategy.authenticate(basic("nobody", STRONG_PASSWORD)) is None
    assert await strategy.authenticate(basic("nobody", STRONG_PASSWORD)) is None
    assert hasher.checks == 2


async def test_password_change_invalidates_the_cached_header(strategy, make_user, hasher, backend):
    user = await make_user("alice")
    old_header = basic("alice", STRONG_PASSWORD)
    assert await strategy.authenticate(old_header) is not None
    new_hash = await backend.hasher.hash(OTHER_PASSWORD)
    await User.filter(id=user.id).update(password_hash=new_hash)
    hasher.checks = 0
    assert await strategy.authenticate(old_header) is None
    assert hasher.checks == 1  # the stale entry was not trusted: bcrypt ran and said no
    assert (await strategy.authenticate(basic("alice", OTHER_PASSWORD))).id == user.id


async def test_rehash_of_the_same_password_only_costs_one_check(strategy, make_user, hasher, backend):
    user = await make_user("alice")
    header = basic("alice", STRONG_PASSWORD)
    await strategy.authenticate(header)
    await User.filter(id=user.id).update(password_hash=await backend.hasher.hash(STRONG_PASSWORD))
    hasher.checks = 0
    assert (await strategy.authenticate(header)).id == user.id
    assert (await strategy.authenticate(header)).id == user.id
    assert hasher.checks == 1


async def test_deactivation_defeats_the_cache(strategy, make_user, hasher):
    user = await make_user("alice")
    header = basic("alice", STRONG_PASSWORD)
    assert await strategy.authenticate(header) is not None
    await User.filter(id=user.id).update(is_active=False)
    assert await strategy.authenticate(header) is None


async def test_deleted_user_defeats_the_cache(strategy, make_user):
    user = await make_user("alice")
    header = basic("alice", STRONG_PASSWORD)
    assert await strategy.authenticate(header) is not None
    await User.filter(id=user.id).delete()
    assert await strategy.authenticate(header) is None


async def test_forget_user_forces_a_fresh_check(strategy, make_user, hasher, cache):
    user = await make_user("alice")
    header = basic("alice", STRONG_PASSWORD)
    await strategy.authenticate(header)
    await cache.forget_user(str(user.id))
    hasher.checks = 0
    assert (await strategy.authenticate(header)).id == user.id
    assert hasher.checks == 1


async def test_cache_entry_expires_after_its_ttl(strategy, make_user, hasher, clock):
    await make_user("alice")
    header = basic("alice", STRONG_PASSWORD)
    await strategy.authenticate(header)
    clock.now += 59
    hasher.checks = 0
    await strategy.authenticate(header)
    assert hasher.checks == 0
    clock.now += 2
    assert await strategy.authenticate(header) is not None
    assert hasher.checks == 1


async def test_malformed_header_is_rejected_as_basic(strategy):
    with pytest.raises(CredentialRejected) as caught:
        await strategy.authenticate("!!!not-base64!!!")
    assert caught.value.scheme == "Basic"


async def test_a_different_password_for_the_same_user_is_not_served_from_the_cache(
    strategy, make_user, hasher
):
    await make_user("alice")
    await strategy.authenticate(basic("alice", STRONG_PASSWORD))
    hasher.checks = 0
    assert await strategy.authenticate(basic("alice", STRONG_PASSWORD + "!")) is None
    assert hasher.checks == 1


# -- MemoryBasicCache ---------------------------------------------------------------


async def test_memory_cache_ttl(cache, clock):
    entry = BasicCacheEntry("user-1", "fp")
    await cache.put("header", entry)
    assert await cache.get("header") == entry
    clock.now += 59.9
    assert await cache.get("header") == entry
    clock.now += 0.1
    assert await cache.get("header") is None


async def test_memory_cache_keys_are_not_the_header(cache):
    await cache.put("YWxpY2U6aHVudGVyMg==", BasicCacheEntry("user-1", "fp"))
    assert all("YWxpY2U6aHVudGVyMg" not in slot for slot in cache._entries)
    assert await cache.get("YWxpY2U6aHVudGVyMw==") is None


async def test_memory_cache_keys_depend_on_the_secret(clock):
    first = MemoryBasicCache(b"a" * 32, ttl=60, clock=clock)
    second = MemoryBasicCache(b"b" * 32, ttl=60, clock=clock)
    await first.put("header", BasicCacheEntry("u", "fp"))
    await second.put("header", BasicCacheEntry("u", "fp"))
    assert set(first._entries).isdisjoint(second._entries)


async def test_memory_cache_forget_user_drops_only_that_user(cache):
    await cache.put("h1", BasicCacheEntry("user-1", "fp"))
    await cache.put("h2", BasicCacheEntry("user-1", "fp"))
    await cache.put("h3", BasicCacheEntry("user-2", "fp"))
    await cache.forget_user("user-1")
    assert await cache.get("h1") is None
    assert await cache.get("h2") is None
    assert await cache.get("h3") == BasicCacheEntry("user-2", "fp")


def test_fingerprint_is_short_and_hides_the_hash():
    password_hash = "$2b$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
    fingerprint = hash_fingerprint(password_hash)
    assert len(fingerprint) == 16
    assert fingerprint not in password_hash
    assert fingerprint != hash_fingerprint(password_hash[:-1] + "5")


# -- RedisBasicCache (real Redis, only when TEST_REDIS_URL is set) -------------------

needs_redis = pytest.mark.skipif(TEST_REDIS_URL is None, reason="TEST_REDIS_URL is not set")


@pytest.fixture
async def redis_client(clean_backends) -> AsyncIterator[object]:
    import redis.asyncio as redis_asyncio

    assert TEST_REDIS_URL is not None
    client = redis_asyncio.from_url(TEST_REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


@needs_redis
async def test_redis_cache_round_trip_with_ttl(redis_client):
    cache = RedisBasicCache(redis_client, CACHE_KEY, ttl=60)
    entry = BasicCacheEntry("user-1", "fp")
    await cache.put("header", entry)
    assert await cache.get("header") == entry
    keys = [k.decode() for k in await redis_client.keys("gatehouse:basic:*")]
    assert keys and all("header" not in k for k in keys)
    for key in keys:
        assert 0 < await redis_client.ttl(key) <= 60


@needs_redis
async def test_redis_cache_is_shared_between_instances(redis_client):
    first = RedisBasicCache(redis_client, CACHE_KEY, ttl=60)
    second = RedisBasicCache(redis_client, CACHE_KEY, ttl=60)
    await first.put("header", BasicCacheEntry("user-1", "fp"))
    assert await second.get("header") == BasicCacheEntry("user-1", "fp")
    await second.forget_user("user-1")
    assert await first.get("header") is None


@needs_redis
async def test_redis_forget_user_drops_only_that_user(redis_client):
    cache = RedisBasicCache(redis_client, CACHE_KEY, ttl=60)
    await cache.put("h1", BasicCacheEntry("user-1", "fp"))
    await cache.put("h2", BasicCacheEntry("user-2", "fp"))
    await cache.forget_user("user-1")
    assert await cache.get("h1") is None
    assert await cache.get("h2") == BasicCacheEntry("user-2", "fp")
    await cache.forget_user("nobody")  # no entries: nothing to do, no error


@needs_redis
async def test_basic_strategy_with_redis_cache(backend, make_user, hasher, redis_client):
    user = await make_user("alice")
    strategy = BasicStrategy(
        PasswordStrategy(hasher, UserRows()), RedisBasicCache(redis_client, CACHE_KEY, ttl=60), UserRows()
    )
    header = basic("alice", STRONG_PASSWORD)
    hasher.checks = 0
    assert (await strategy.authenticate(header)).id == user.id
    assert (await strategy.authenticate(header)).id == user.id
    assert hasher.checks == 1
    await User.filter(id=user.id).update(password_hash=await backend.hasher.hash(OTHER_PASSWORD))
    assert await strategy.authenticate(header) is None


# -- decode_basic -------------------------------------------------------------------


def test_basic_decodes_login_and_password():
    assert decode_basic(b64("alice:correct horse")) == BasicCredentials("alice", "correct horse")


def test_basic_password_may_contain_colons():
    credentials = decode_basic(b64("alice:pa:ss:word:"))
    assert credentials.login == "alice"
    assert credentials.password == "pa:ss:word:"


def test_basic_is_utf8():
    credentials = decode_basic(b64("zoë:pässwörd🔑"))
    assert credentials == BasicCredentials("zoë", "pässwörd🔑")


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        "YWxpY2U6cGFzcw",  # missing padding
        "YWxp Y2U6cGFzcw==",  # embedded space
        b64(b"zo\xeb:latin-1 password"),  # not UTF-8
        b64("alice"),  # no colon
        b64(":password"),  # empty login
        b64("alice:"),  # empty password
        b64(":"),
        "",
    ],
    ids=[
        "bad-alphabet",
        "bad-padding",
        "space",
        "not-utf8",
        "no-colon",
        "empty-login",
        "empty-password",
        "only-colon",
        "empty",
    ],
)
def test_malformed_basic_is_rejected_as_basic(value):
    with pytest.raises(CredentialRejected) as caught:
        decode_basic(value)
    assert caught.value.scheme == "Basic"
    assert caught.value.extensions["code"] == ErrorCode.UNAUTHENTICATED.value


def test_basic_rejection_never_echoes_the_credentials():
    with pytest.raises(CredentialRejected) as caught:
        decode_basic(b64("alice:"))
    assert "alice" not in str(caught.value)


def test_basic_credentials_repr_hides_the_password():
    credentials = decode_basic(b64("alice:hunter2-secret"))
    for text in (repr(credentials), str(credentials), f"{credentials!r}", repr([credentials])):
        assert "hunter2-secret" not in text
        assert "alice" in text
