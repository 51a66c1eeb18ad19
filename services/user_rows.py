"""User rows as the password strategies read them: the ORM side of `UserStore`."""

from __future__ import annotations

from auth.strategy.password import LOGIN_MAX, USERNAME_MAX, login_key
from models import User


def _storable(value: str) -> bool:
    """Whether `value` could be a stored username or email key: no NUL (PostgreSQL refuses
    it in text) and valid UTF-8 (a lone surrogate cannot be sent to either database)."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def find_user_by_login(login: str) -> User | None:
    """The user whose username or email matches `login`, ignoring case.

    A login no account can have (empty, too long, a NUL, a lone surrogate) is not looked
    up: it finds no one, as an unknown name does, instead of making the database fail.
    """
    column, value = login_key(login)
    # Tortoise refuses a filter value longer than its column (a 500): usernames are 32.
    longest = USERNAME_MAX if column == "username_key" else LOGIN_MAX
    if not value or len(value) > longest or not _storable(value):
        return None
    return await User.filter(**{column: value}).first()


class UserRows:
    """Reads and writes user rows for the strategies (`auth.strategy.stores.UserStore`)."""

    async def by_login(self, login: str) -> User | None:
        """The user whose username or email is `login` (`find_user_by_login`)."""
        return await find_user_by_login(login)

    async def by_id(self, user_id: str) -> User | None:
        """The user with this id."""
        return await User.filter(id=user_id).first()

    async def replace_password_hash(self, user_id: str, verified: str, upgraded: str) -> bool:
        """Store `upgraded` over `verified` only: a password changed meanwhile stays changed."""
        return bool(await User.filter(id=user_id, password_hash=verified).update(password_hash=upgraded))
