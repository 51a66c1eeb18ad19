"""Login and password: one answer for unknown user, wrong password and disabled account."""

from __future__ import annotations

from auth.passwords import PasswordHasher, password_too_long
from models import User

LOGIN_MAX = 320  # the longest email address; no username or address is longer
USERNAME_MAX = 32  # models/users.py `username_key`
# Longer logins are not even lower-cased: they match no account (leading and trailing
# spaces are forgiven, so the bound leaves room for some).
LOGIN_INPUT_MAX = 1024
NO_ACCOUNT = ("username_key", "")  # the key of a login that can match no account


def login_key(login: str) -> tuple[str, str]:
    """The column and normalised value a `login` (username or email) is looked up by.

    Also the rate limiter's account key, so it is bounded: an over-long login gets the key
    of the empty login, which matches no account.
    """
    if len(login) > LOGIN_INPUT_MAX:
        return NO_ACCOUNT
    normalised = login.strip().lower()
    return ("email_key" if "@" in normalised else "username_key", normalised)


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


class PasswordStrategy:
    """Verifies a login and password."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher

    async def authenticate(self, login: str, password: str) -> User | None:
        """The active user for these credentials, or `None`.

        Exactly one hash check runs whatever the outcome, so timing does not tell an
        unknown user from a wrong password; a disabled account is checked last. A
        password longer than any password can be is refused before any work, for every
        login alike. A success re-hashes a hash made at another cost (or scheme).
        """
        if password_too_long(password):
            return None
        user = await find_user_by_login(login)
        if user is None:
            await self.hasher.verify_dummy(password)
            return None
        if not await self.hasher.verify(password, user.password_hash):
            return None
        if not user.is_active:
            return None
        if self.hasher.needs_rehash(user.password_hash):
            await self._upgrade(user, password)
        return user

    async def _upgrade(self, user: User, password: str) -> None:
        """Store `password` at today's cost, over the verified hash only: a password changed
        in the meantime stays changed."""
        verified = user.password_hash
        upgraded = await self.hasher.hash(password)
        if await User.filter(id=user.id, password_hash=verified).update(password_hash=upgraded):
            user.password_hash = upgraded
