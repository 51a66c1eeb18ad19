"""Login and password: one answer for unknown user, wrong password and disabled account."""

from __future__ import annotations

from auth.passwords import PasswordHasher
from models import User


def login_key(login: str) -> tuple[str, str]:
    """The column and normalised value a `login` (username or email) is looked up by."""
    normalised = login.strip().lower()
    return ("email_key" if "@" in normalised else "username_key", normalised)


async def find_user_by_login(login: str) -> User | None:
    """The user whose username or email matches `login`, ignoring case."""
    column, value = login_key(login)
    if not value or len(value) > 320:
        return None
    return await User.filter(**{column: value}).first()


class PasswordStrategy:
    """Verifies a login and password."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher

    async def authenticate(self, login: str, password: str) -> User | None:
        """The active user for these credentials, or `None`.

        Exactly one hash check runs whatever the outcome, so timing does not tell an
        unknown user from a wrong password; a disabled account is checked last.
        """
        user = await find_user_by_login(login)
        if user is None:
            await self.hasher.verify_dummy(password)
            return None
        if not await self.hasher.verify(password, user.password_hash):
            return None
        if not user.is_active:
            return None
        return user
