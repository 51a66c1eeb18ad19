"""Input rules for usernames, emails and passwords (NIST SP 800-63B for passwords)."""

from __future__ import annotations

import asyncio
import re

from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn

from auth.passwords import normalise_password

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
PASSWORD_MIN = 8
PASSWORD_MAX = 256
# zxcvbn is quadratic in length; the first 72 characters tell whether a password is
# guessable, and a strong prefix makes the whole strong.
STRENGTH_PREFIX = 72
MIN_SCORE = 2  # zxcvbn 0..4: 0 and 1 are "too guessable" / "very guessable"


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
    """A message when the length (in characters, after normalisation) is out of range."""
    length = len(normalise_password(password))
    if length < PASSWORD_MIN:
        return f"Use at least {PASSWORD_MIN} characters."
    if length > PASSWORD_MAX:
        return f"Use at most {PASSWORD_MAX} characters."
    return None


async def check_password(password: str, username: str, email: str) -> str | None:
    """A message when `password` is too short, too long, common or personal; else `None`."""
    problem = check_password_length(password)
    if problem:
        return problem
    return await asyncio.to_thread(_strength_problem, normalise_password(password), username, email)
