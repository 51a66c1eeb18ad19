"""Login and password: one answer for unknown user, wrong password and disabled account.

The verifier behind the `login` mutation and HTTP Basic. It reads no token from a
request, so it is not a `Strategy` of its own: Basic is the strategy that carries it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.passwords import PasswordHasher, password_too_long
from auth.strategy.stores import UserStore

if TYPE_CHECKING:
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


class PasswordStrategy:
    """Verifies a login and password against the user rows of `users`."""

    def __init__(self, hasher: PasswordHasher, users: UserStore) -> None:
        self.hasher = hasher
        self.users = users

    async def authenticate(self, login: str, password: str) -> User | None:
        """The active user for these credentials, or `None`.

        Exactly one hash check runs whatever the outcome, so timing does not tell an
        unknown user from a wrong password; a disabled account is checked last. A
        password longer than any password can be is refused before any work, for every
        login alike. A success re-hashes a hash made at another cost (or scheme).
        """
        if password_too_long(password):
            return None
        user = await self.users.by_login(login)
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
        if await self.users.replace_password_hash(str(user.id), verified, upgraded):
            user.password_hash = upgraded
