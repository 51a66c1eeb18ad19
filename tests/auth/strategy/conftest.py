"""Fixtures for the strategy tests: a database (through `app`) and a counting hasher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from starlette.applications import Starlette

from auth.backend import AuthBackend
from core.settings import Settings
from models import User
from services.accounts import register
from tests.helpers import STRONG_PASSWORD, CountingHasher


@pytest.fixture
def hasher() -> CountingHasher:
    """bcrypt at cost 4, counting its checks."""
    return CountingHasher()


@pytest.fixture
async def backend(app: Starlette, settings: Settings, hasher: CountingHasher) -> AsyncIterator[AuthBackend]:
    """Strategies wired with the counting hasher, its signing keys loaded; the `app`
    fixture has the database up."""
    built = AuthBackend.build(settings, hasher=hasher)
    await built.start()
    yield built
    await built.stop()


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(backend: AuthBackend) -> MakeUser:
    """Register a user through the accounts service (email `<username>@example.com`)."""

    async def make(username: str, password: str = STRONG_PASSWORD, active: bool = True) -> User:
        user = await register(backend.hasher, None, username, f"{username}@example.com", password)
        if not active:
            await User.filter(id=user.id).update(is_active=False)
            user.is_active = False
        return user

    return make
