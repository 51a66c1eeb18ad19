"""Input rules for usernames, emails and passwords (NIST SP 800-63B for passwords)."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn

from auth.passwords import PASSWORD_MAX, normalise_password, password_too_long

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
PASSWORD_MIN = 8
TOO_LONG = f"Use at most {PASSWORD_MAX} characters."
# zxcvbn is quadratic in length; the first 72 characters tell whether a password is
# guessable, and a strong prefix makes the whole strong.
STRENGTH_PREFIX = 72
MIN_SCORE = 2  # zxcvbn 0..4: 0 and 1 are "too guessable" / "very guessable"
# zxcvbn takes about 40 ms of pure Python per password: two threads at most, so a burst of
# registrations queues here instead of taking every core (and the GIL) from the loop.
STRENGTH_WORKERS = 2
_strength_pool = ThreadPoolExecutor(max_workers=STRENGTH_WORKERS, thread_name_prefix="password-check")


def check_username(username: str) -> str | None:
    """A message when `username` breaks the rules, else `None`."""
    if not USERNAME_PATTERN.fullmatch(username):
        return "Use 3 to 32 characters: letters, digits, '_', '.' or '-'."
    return None


def normalise_email(email: str) -> tuple[str | None, str | None]:
    """(normalised address, None) or (None, message)."""
    if not email or len(email) > 320:
        return None, "Enter a valid email address."
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None, "Enter a valid email address."
    return result.normalized, None


def _strength_problem(password: str, username: str, email: str) -> str | None:
    prefix = password[:STRENGTH_PREFIX]
    personal = [p for p in (username, email, email.split("@")[0]) if p]
    report = zxcvbn(prefix, user_inputs=personal, max_length=STRENGTH_PREFIX)
    lowered = prefix.lower()
    remainder = lowered
    for item in personal:
        if len(item) >= 3:
            remainder = remainder.replace(item.lower(), "")
    built_from_personal = remainder != lowered and (
        len(remainder) < PASSWORD_MIN or zxcvbn(remainder, max_length=STRENGTH_PREFIX)["score"] < MIN_SCORE
    )
    if built_from_personal:
        return "The password is built from your username or email; choose another."
    if report["score"] < MIN_SCORE:
        feedback = report["feedback"]
        parts = [feedback.get("warning") or "This password is too easy to guess."]
        parts += feedback.get("suggestions") or []
        return " ".join(p for p in parts if p)
    return None


def check_password_length(password: str) -> str | None:
    """A message when the length (in characters, after normalisation) is out of range.

    Input longer than any normal form of an allowed password is refused unread; below that
    bound the normalisation costs up to a few milliseconds, so call this off the loop.
    """
    if password_too_long(password):
        return TOO_LONG
    length = len(normalise_password(password))
    if length < PASSWORD_MIN:
        return f"Use at least {PASSWORD_MIN} characters."
    if length > PASSWORD_MAX:
        return TOO_LONG
    return None


def _password_problem(password: str, username: str, email: str) -> str | None:
    problem = check_password_length(password)
    if problem:
        return problem
    return _strength_problem(normalise_password(password), username, email)


async def check_password(password: str, username: str, email: str) -> str | None:
    """A message when `password` is too short, too long, common or personal; else `None`.

    An over-long input is refused at once; normalisation and zxcvbn run in worker threads.
    """
    if password_too_long(password):
        return TOO_LONG
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_strength_pool, _password_problem, password, username, email)
