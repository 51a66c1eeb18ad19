"""`auth/ratelimit.py`'s storage: `SafeMemoryStorage` and the `limits` bug it works around."""

from __future__ import annotations

import asyncio

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from auth.ratelimit import SafeMemoryStorage

LIMIT = parse("2/minute")


async def _clear_while_the_expiry_task_runs(storage: MemoryStorage) -> BaseException | None:
    """Hits on several keys start the storage's expiry task; the keys are cleared while it
    waits on its worker thread. What the task ended with (None: it finished)."""
    limiter = MovingWindowRateLimiter(storage)
    keys = [f"k{n}" for n in range(5)]
    for key in keys:
        assert await limiter.hit(LIMIT, "login-account", key)
    await asyncio.sleep(0)  # the task lists the keys and awaits a thread for the first
    for key in keys:
        await limiter.clear(LIMIT, "login-account", key)
    task = storage.timer
    assert task is not None, "limits no longer keeps its expiry task in `timer`: re-check the bug"
    await asyncio.wait([task])
    for key in keys:  # cleared: a full window is allowed again
        assert await limiter.hit(LIMIT, "login-account", key)
        assert await limiter.hit(LIMIT, "login-account", key)
        assert not await limiter.hit(LIMIT, "login-account", key)
    return None if task.cancelled() else task.exception()


async def test_the_library_memory_storage_still_breaks_its_expiry_task_on_clear():
    """The bug `SafeMemoryStorage` exists for. When this fails, `limits` fixed it: use its
    `MemoryStorage` in `build_storage` and delete `SafeMemoryStorage` and this test."""
    failure = await _clear_while_the_expiry_task_runs(MemoryStorage())
    assert isinstance(failure, KeyError), f"limits' MemoryStorage.clear looks fixed ({failure!r})"


async def test_safe_memory_storage_keeps_its_expiry_task_alive():
    assert await _clear_while_the_expiry_task_runs(SafeMemoryStorage()) is None


async def test_cleared_windows_are_removed_by_the_expiry_task():
    storage = SafeMemoryStorage()
    await _clear_while_the_expiry_task_runs(storage)
    limiter = MovingWindowRateLimiter(storage)
    await limiter.clear(LIMIT, "login-account", "k0")
    await asyncio.sleep(0)
    await limiter.hit(LIMIT, "login-account", "other")  # starts the next expiry pass
    assert storage.timer is not None
    await asyncio.wait([storage.timer])
    assert LIMIT.key_for("login-account", "k0") not in storage.events
