"""The Redis client gives up after DB_TIMEOUT, like the database driver."""

from __future__ import annotations

import pytest

from core.redis_client import connect_redis
from tests.helpers import make_settings


async def test_connects_and_commands_are_bounded_by_db_timeout():
    client = connect_redis(make_settings(redis_url="redis://127.0.0.1:6379/0", db_timeout=3.0))
    try:
        options = client.connection_pool.connection_kwargs
        assert options["socket_timeout"] == 3.0
        assert options["socket_connect_timeout"] == 3.0
    finally:
        await client.aclose()


def test_refuses_to_build_without_a_url():
    with pytest.raises(ValueError, match="REDIS_URL"):
        connect_redis(make_settings(redis_url=None))
