"""Accounts: registration, password login, password change, roles and activation."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from auth.backend import AuthBackend
from auth.identity import Identity
from auth.strategy.password import find_user_by_login
from core.client import ClientInfo
from core.clock import utcnow
from core.errors import GENERIC_LOGIN_FAILURE, BadUserInput, RateLimited, Unauthenticated
from models import User
from services import credentials
from services.audit import audit
from services.validation import check_password, check_username, normalise_email

ROLE_PATTERN_MAX = 32


async def register(
    backend: AuthBackend, username: str, email: str, password: str, client: ClientInfo | None = None
) -> User:
    """Create an account; every invalid or taken field is reported at once.

    Requests from a client (not the command line) count against the per-IP limit.
    """
    if client is not None:
        await backend.limiter.register_attempt(client.ip)
    problems: dict[str, str] = {}
    if message := check_username(username):
        problems["username"] = message
    normalised_email, message = normalise_email(email)
    if message:
        problems["email"] = message
    if message := await check_password(password, username, normalised_email or email):
        problems["password"] = message
    if problems:
        raise BadUserInput(problems)
    assert normalised_email is not None
    if await User.filter(username_key=username.lower()).exists():
        problems["username"] = "This username is taken."
    if await User.filter(email_key=normalised_email.lower()).exists():
        problems["email"] = "This email is already registered."
    if problems:
        raise BadUserInput(problems)
    password_hash = await backend.hasher.hash(password)
    try:
        user = await User.create(
            username=username,
            username_key=username.lower(),
            email=normalised_email,
            email_key=normalised_email.lower(),
            password_hash=password_hash,
            roles=[],
            password_changed_at=utcnow(),
        )
    except IntegrityError:
        # Lost a race with a concurrent registration: the unique columns decided.
        raise BadUserInput(await _taken_fields(username, normalised_email)) from None
    audit("register", client, user_id=user.id)
    return user


async def _taken_fields(username: str, email: str) -> dict[str, str]:
    taken: dict[str, str] = {}
    if await User.filter(username_key=username.lower()).exists():
        taken["username"] = "This username is taken."
    if await User.filter(email_key=email.lower()).exists():
        taken["email"] = "This email is already registered."
    return taken or {"username": "This username or email is taken."}


async def login(backend: AuthBackend, login: str, password: str, client: ClientInfo | None = None) -> User:
    """The user for a login (username or email) and password; one answer for every failure.

    Every attempt counts against the per-IP and per-account limits before the password
    is checked (`RateLimited` when over); a success clears the account's counters.
    """
    try:
        await backend.limiter.login_attempt(login, client.ip if client else None)
    except RateLimited:
        audit("login_rate_limited", client)
        raise
    user = await backend.passwords.authenticate(login, password)
    if user is None:
        audit("login_failure", client)
        raise Unauthenticated(GENERIC_LOGIN_FAILURE)
    await backend.limiter.login_succeeded(login)
    if backend.hasher.needs_rehash(user.password_hash):
        user.password_hash = await backend.hasher.hash(password)
        await User.filter(id=user.id).update(password_hash=user.password_hash)
    audit("login_success", client, user_id=user.id)
    return user


async def change_password(
    backend: AuthBackend, identity: Identity, current: str, new: str, client: ClientInfo | None = None
) -> None:
    """Check the current password, set the new one, end every other credential."""
    user = identity.user
    assert user is not None
    # The current password is a guess like any login: a stolen session must not
    # become an unlimited password oracle.
    await backend.limiter.login_attempt(user.username, client.ip if client else None)
    if not await backend.hasher.verify(current, user.password_hash):
        raise BadUserInput({"currentPassword": "The current password is wrong."})
    await backend.limiter.login_succeeded(user.username)
    if message := await check_password(new, user.username, user.email):
        raise BadUserInput({"newPassword": message})
    user.password_hash = await backend.hasher.hash(new)
    await User.filter(id=user.id).update(password_hash=user.password_hash, password_changed_at=utcnow())
    await credentials.revoke_all(backend, str(user.id), keep=identity.credential_id)
    audit("password_change", client, user_id=user.id)


async def _target(user_id: str) -> User:
    user = await User.filter(id=user_id).first() if _is_uuid(user_id) else None
    if user is None:
        raise BadUserInput({"userId": "No such user."})
    return user


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_role(role: str) -> str:
    role = role.strip()
    if not role or len(role) > ROLE_PATTERN_MAX or not role.replace("_", "").replace("-", "").isalnum():
        raise BadUserInput({"role": "Use 1 to 32 letters, digits, '_' or '-'."})
    return role


async def grant_role(
    backend: AuthBackend, user_id: str, role: str, by: Identity, client: ClientInfo | None = None
) -> User:
    """Give `role` to a user; it holds from their next request on."""
    role = _check_role(role)
    user = await _target(user_id)
    if role not in user.roles:
        user.roles = [*user.roles, role]
        await User.filter(id=user.id).update(roles=user.roles)
        await backend.invalidate_user(str(user.id))
    audit("role_grant", client, user_id=user.id, role=role, by=by.user_id)
    return user


async def revoke_role(
    backend: AuthBackend, user_id: str, role: str, by: Identity, client: ClientInfo | None = None
) -> User:
    """Take `role` from a user; their very next request no longer has it."""
    role = _check_role(role)
    user = await _target(user_id)
    if role in user.roles:
        user.roles = [r for r in user.roles if r != role]
        await User.filter(id=user.id).update(roles=user.roles)
        await backend.invalidate_user(str(user.id))
    audit("role_revoke", client, user_id=user.id, role=role, by=by.user_id)
    return user


async def set_active(
    backend: AuthBackend, user_id: str, active: bool, by: Identity, client: ClientInfo | None = None
) -> User:
    """Enable or disable an account; disabling ends every credential."""
    user = await _target(user_id)
    user.is_active = active
    await User.filter(id=user.id).update(is_active=active)
    await backend.invalidate_user(str(user.id))
    if not active:
        await credentials.revoke_all(backend, str(user.id))
    audit("user_activate" if active else "user_deactivate", client, user_id=user.id, by=by.user_id)
    return user


async def create_admin(backend: AuthBackend, username: str, email: str, password: str) -> tuple[User, bool]:
    """Create an admin, or promote and re-password an existing user; True when created."""
    existing = await find_user_by_login(username)
    if existing is None:
        user = await register(backend, username, email, password)
        created = True
    else:
        user = existing
        if message := await check_password(password, user.username, user.email):
            raise BadUserInput({"password": message})
        user.password_hash = await backend.hasher.hash(password)
        await User.filter(id=user.id).update(password_hash=user.password_hash, is_active=True)
        created = False
    if "admin" not in user.roles:
        user.roles = [*user.roles, "admin"]
        await User.filter(id=user.id).update(roles=user.roles)
        await backend.invalidate_user(str(user.id))
    audit("create_admin", None, user_id=user.id)
    return user, created
