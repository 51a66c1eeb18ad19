"""The bcrypt pool: worker threads at a lower priority than the event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from auth.passwords import HASHER_NICENESS, BcryptHasher


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
