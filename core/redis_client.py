"""The one way the app connects to Redis: with the same time limit as the database."""

from __future__ import annotations

from typing import Any

from core.settings import Settings


def connect_redis(settings: Settings) -> Any:
    """A `redis.asyncio` client for `REDIS_URL` whose connects and commands give up after
    `DB_TIMEOUT` seconds, so a Redis that hangs answers 503 instead of holding requests."""
    import redis.asyncio as redis_asyncio

    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set")
    return redis_asyncio.from_url(
        settings.redis_url,
        socket_timeout=settings.db_timeout,
        socket_connect_timeout=settings.db_timeout,
    )
