"""What the suite runs against, read from the environment once, and settings built from it.

- `TEST_DATABASE_URL`: a PostgreSQL URL; unset, the suite uses in-memory SQLite.
- `TEST_REDIS_URL`: a Redis URL; unset, the in-process fallbacks are used.
- `TEST_GRAPHQL_EXECUTOR`: `compiled` or `graphql-core`; unset, the `Settings` default.
  CI runs the suite once per engine with it.
"""

from __future__ import annotations

import os
from typing import Any

from core.settings import Secret, Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
TEST_GRAPHQL_EXECUTOR = os.environ.get("TEST_GRAPHQL_EXECUTOR") or None
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
STRONG_PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "violet tractor umbrella sonnet"


def in_ci() -> bool:
    """True under CI (`CI=true`), where a test must fail, not skip, for a missing part."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def uses_postgres() -> bool:
    """True when the suite runs against PostgreSQL."""
    return TEST_DATABASE_URL is not None


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: fast bcrypt, the test database and Redis when configured.

    The GraphQL engine is `TEST_GRAPHQL_EXECUTOR` when that is set (so one suite covers
    both engines), else the `Settings` default; an explicit `graphql_executor=` override wins.
    """
    values: dict[str, Any] = {
        "secret_key": Secret(TEST_SECRET),
        "database_url": TEST_DATABASE_URL or "sqlite://:memory:",
        "redis_url": TEST_REDIS_URL,
        "bcrypt_rounds": 4,
        "app_env": "test",
        # The host httpx's ASGI transport names (base_url http://testserver).
        "allowed_hosts": ("testserver",),
        # Tests register many accounts from one client; the tests of this limit set their own.
        "register_limit_per_ip": "1000/minute",
    }
    if TEST_GRAPHQL_EXECUTOR is not None:
        values["graphql_executor"] = TEST_GRAPHQL_EXECUTOR
    values.update(overrides)
    return Settings(**values)
