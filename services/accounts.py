"""Accounts: registration, password login, password change, roles and activation."""

from __future__ import annotations

import dataclasses
import re

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from auth.basic_cache import BasicCache
from auth.identity import PASSWORD_AMR, Identity
from auth.identity_cache import IdentityCache
from auth.passwords import PasswordHasher, has_password, password_too_long
from auth.ratelimit import LoginLimiter
from auth.strategy.password import PasswordStrategy
from core.client import ClientInfo
from core.clock import utcnow
from core.errors import GENERIC_LOGIN_FAILURE, BadUserInput, Forbidden, RateLimited, Unauthenticated
from models import CredentialKind, User
from services import credential_rows, credentials, external_identities
from services.audit import audit
from services.validation import check_password, check_username, normalise_email

ROLE_PATTERN_MAX = 32
# ASCII only: a role travels in HTTP headers (forward auth's `X-Auth-Roles`) and JWT
# claims, and `str.isalnum` would also admit every Unicode letter and digit ("管理", "é").
ROLE_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{ROLE_PATTERN_MAX}}}")
ROLE_RULE = f"Use 1 to {ROLE_PATTERN_MAX} ASCII letters (A-Z, a-z), digits, '_' or '-'."

# An account as the services hand it out, for callers that import no model (resolvers).
Account = User


# One answer whatever was taken, on both fields: the answer says that this username and
# email cannot both be registered, never which one is in use (see docs/SECURITY.md).
TAKEN = "This username or email is already registered."
TAKEN_FIELDS = {"username": TAKEN, "email": TAKEN}


def _check_name_and_email(username: str, email: str) -> tuple[dict[str, str], str | None]:
    """The problems with a new account's username and email, and the normalised email."""
    problems: dict[str, str] = {}
    if message := check_username(username):
        problems["username"] = message
    normalised_email, message = normalise_email(email)
    if message:
        problems["email"] = message
    return problems, normalised_email


async def register(
    hasher: PasswordHasher,
    limiter: LoginLimiter | None,
    username: str,
    email: str,
    password: str,
    client: ClientInfo | None = None,
) -> User:
    """Create an account; every invalid field is reported at once.

    With a `limiter` (requests from a client, not the command line), each attempt counts
    against the per-IP limit of `client`. A
    taken username or email gets one answer (`TAKEN_FIELDS`), after the same password
    hash a new account costs, so neither the message nor the time tells which was taken.
    """
    if limiter is not None:
        await limiter.register_attempt(client.ip if client else None)
    problems, normalised_email = _check_name_and_email(username, email)
    if message := await check_password(password, username, normalised_email or email):
        problems["password"] = message
    if problems:
        raise BadUserInput(problems)
    assert normalised_email is not None
    password_hash = await hasher.hash(password)
    username_key, email_key = username.lower(), normalised_email.lower()
    if await User.filter(Q(username_key=username_key) | Q(email_key=email_key)).exists():
        raise BadUserInput(TAKEN_FIELDS, TAKEN)
    try:
        user = await User.create(
            username=username,
            username_key=username_key,
            email=normalised_email,
            email_key=email_key,
            password_hash=password_hash,
            roles=[],
            password_changed_at=utcnow(),
        )
    except IntegrityError:
        # Lost a race with a concurrent registration: the unique columns decided.
        raise BadUserInput(TAKEN_FIELDS, TAKEN) from None
    audit("register", client, user_id=user.id)
    return user


async def login(
    limiter: LoginLimiter,
    passwords: PasswordStrategy,
    login: str,
    password: str,
    client: ClientInfo | None = None,
) -> User:
    """The user for a login (username or email) and password; one answer for every failure.

    Every attempt counts against the per-IP and per-account limits before the password
    is checked (`RateLimited` when over); a success clears the account's counters. A
    password over the input maximum counts too and fails like any other, unhashed
    (`PasswordStrategy.authenticate`); a success re-hashes a hash of another cost.
    """
    try:
        await limiter.login_attempt(login, client.ip if client else None)
    except RateLimited:
        audit("login_rate_limited", client)
        raise
    user = await passwords.authenticate(login, password)
    if user is None:
        audit("login_failure", client)
        raise Unauthenticated(GENERIC_LOGIN_FAILURE)
    await limiter.login_succeeded(login)
    audit("login_success", client, user_id=user.id)
    return user


async def change_password(
    hasher: PasswordHasher,
    limiter: LoginLimiter,
    identity_cache: IdentityCache,
    basic_cache: BasicCache,
    identity: Identity,
    current: str,
    new: str,
    client: ClientInfo | None = None,
) -> None:
    """Check the current password, set the new one, end every other credential.

    An account made through another provider has no password: a sign-in through its
    provider within the last 10 minutes stands for the current one (an empty
    `currentPassword` is sent), and this sets its first password."""
    user = identity.user
    assert user is not None
    # The current password is a guess like any login: a stolen session must not
    # become an unlimited password oracle.
    await limiter.login_attempt(user.username, client.ip if client else None)
    if not has_password(user.password_hash):
        if not external_identities.proves_provider_sign_in(identity):
            raise BadUserInput({"currentPassword": external_identities.NO_PASSWORD_PROOF})
    # An over-long current password cannot be right: refused unread, like a wrong one.
    elif password_too_long(current) or not await hasher.verify(current, user.password_hash):
        raise BadUserInput({"currentPassword": "The current password is wrong."})
    await limiter.login_succeeded(user.username)
    if message := await check_password(new, user.username, user.email):
        raise BadUserInput({"newPassword": message})
    user.password_hash = await hasher.hash(new)
    await User.filter(id=user.id).update(password_hash=user.password_hash, password_changed_at=utcnow())
    await credentials.revoke_all(identity_cache, basic_cache, str(user.id), keep=identity.credential_id)
    audit("password_change", client, user_id=user.id)


NOT_AVAILABLE_YET = "Not available yet: reauthenticate with your password."
REAUTHENTICATION_FAILED = "Invalid password."
TOKENS_ARE_EXEMPT = (
    "API tokens are exempt from step-up (their scopes are their limit); "
    "reauthenticate renews a session or a bearer sign-in."
)


async def reauthenticate(
    hasher: PasswordHasher,
    limiter: LoginLimiter,
    identity_cache: IdentityCache,
    identity: Identity,
    password: str | None,
    code: str | None = None,
    passkey: object | None = None,
    client: ClientInfo | None = None,
) -> Identity:
    """Prove the password again and renew `auth_time` of the current credential (step-up,
    contract section 12); the identity, renewed, that the rest of the operation runs as.

    Only a password works today: `code` and `passkey` are `BadUserInput` saying so. The
    password is a guess like any login: it counts against the login limits first
    (`RateLimited` when over), and a wrong one is `Unauthenticated`, as a failed `login`.
    Basic proves the password on every request and has no row: the password is checked,
    nothing is stored. An API token is `Forbidden`, before any password is read: tokens
    are exempt from step-up, and a token must not become a password oracle. A credential
    revoked meanwhile is `Unauthenticated`. Every later request sees the new `auth_time`
    (the identity cache is invalidated after the write).
    """
    user = identity.user
    assert user is not None
    if code is not None or passkey is not None:
        raise BadUserInput({"code" if code is not None else "passkey": NOT_AVAILABLE_YET})
    if identity.credential_kind == CredentialKind.API_TOKEN.value:
        raise Forbidden(TOKENS_ARE_EXEMPT)
    if not password:
        raise BadUserInput({"password": "Give your password."})
    try:
        await limiter.login_attempt(user.username, client.ip if client else None)
    except RateLimited:
        audit("reauthenticate_rate_limited", client, user_id=user.id)
        raise
    # An over-long password cannot be right: refused unread, like a wrong one.
    if password_too_long(password) or not await hasher.verify(password, user.password_hash):
        audit("reauthenticate_failure", client, user_id=user.id)
        raise Unauthenticated(REAUTHENTICATION_FAILED)
    await limiter.login_succeeded(user.username)
    now = utcnow()
    if identity.credential_id is not None:  # Basic has no row: it is fresh on every request
        if not await credential_rows.renew_auth_time(str(user.id), identity.credential_id, now, PASSWORD_AMR):
            raise Unauthenticated("This credential has ended; sign in again.")
        await identity_cache.invalidate_user(str(user.id))
    audit("reauthenticate", client, user_id=user.id, credential_id=identity.credential_id)
    return dataclasses.replace(identity, auth_time=now, amr=PASSWORD_AMR)


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
    if not ROLE_PATTERN.fullmatch(role):
        raise BadUserInput({"role": ROLE_RULE})
    return role


async def grant_role(
    identity_cache: IdentityCache, user_id: str, role: str, by: Identity, client: ClientInfo | None = None
) -> User:
    """Give `role` to a user; it holds from their next request on."""
    role = _check_role(role)
    user = await _target(user_id)
    if role not in user.roles:
        user.roles = [*user.roles, role]
        await User.filter(id=user.id).update(roles=user.roles)
        await identity_cache.invalidate_user(str(user.id))
    audit("role_grant", client, user_id=user.id, role=role, by=by.user_id)
    return user


async def revoke_role(
    identity_cache: IdentityCache, user_id: str, role: str, by: Identity, client: ClientInfo | None = None
) -> User:
    """Take `role` from a user; their very next request no longer has it. A role the
    user holds is taken even when today's rule would refuse to grant it (rows from
    before roles were ASCII only), so an admin can clean such a row up."""
    try:
        role = _check_role(role)
    except BadUserInput:
        user = await _target(user_id)
        if role.strip() not in user.roles:
            raise
        role = role.strip()
    else:
        user = await _target(user_id)
    if role in user.roles:
        user.roles = [r for r in user.roles if r != role]
        await User.filter(id=user.id).update(roles=user.roles)
        await identity_cache.invalidate_user(str(user.id))
    audit("role_revoke", client, user_id=user.id, role=role, by=by.user_id)
    return user


async def set_active(
    identity_cache: IdentityCache,
    basic_cache: BasicCache,
    user_id: str,
    active: bool,
    by: Identity,
    client: ClientInfo | None = None,
) -> User:
    """Enable or disable an account; disabling ends every credential."""
    user = await _target(user_id)
    user.is_active = active
    await User.filter(id=user.id).update(is_active=active)
    await identity_cache.invalidate_user(str(user.id))
    if not active:
        await credentials.revoke_all(identity_cache, basic_cache, str(user.id))
    audit("user_activate" if active else "user_deactivate", client, user_id=user.id, by=by.user_id)
    return user


async def create_admin(
    hasher: PasswordHasher,
    identity_cache: IdentityCache,
    basic_cache: BasicCache,
    username: str,
    email: str,
    password: str,
    promote: bool = False,
) -> tuple[User, bool]:
    """The `create-admin` command: create a new admin, or promote an existing account.

    Without `promote`, an existing username or email is refused: nothing is changed and
    the message names `--promote`. With `promote`, the account is the one whose username
    is exactly `username` (ignoring case; never looked up as a login, so an email never
    matches) and `email` must be that account's own email, proving the operator means
    it; it gets the new password, is re-activated, becomes an admin, and every credential
    it had ends (sessions, refresh families, API tokens, cached Basic headers). True when
    created.
    """
    problems, normalised_email = _check_name_and_email(username, email)
    if problems:
        raise BadUserInput(problems)
    assert normalised_email is not None
    email_key = normalised_email.lower()
    named = await User.filter(username_key=username.lower()).first()
    if not promote:
        created = await _create_admin(
            hasher, identity_cache, username, normalised_email, email_key, password, named
        )
        return created, True
    if named is None:
        raise BadUserInput(
            {
                "username": f"No account is named {username}; nothing was changed. "
                "Run create-admin without --promote to create it."
            }
        )
    if named.email_key != email_key:
        raise BadUserInput(
            {"email": f"This is not the email of the account named {named.username}; nothing was changed."}
        )
    if message := await check_password(password, named.username, named.email):
        raise BadUserInput({"password": message})
    password_hash = await hasher.hash(password)
    roles = named.roles if "admin" in named.roles else [*named.roles, "admin"]
    # The operator typed this account's own email: that vouches for the address, so an
    # admin is never held back by REQUIRE_VERIFIED_EMAIL (a first login would only mail).
    verified_at = named.email_verified_at or utcnow()
    await User.filter(id=named.id).update(
        password_hash=password_hash,
        password_changed_at=utcnow(),
        is_active=True,
        roles=roles,
        email_verified_at=verified_at,
    )
    # Whoever held this account until now keeps nothing: revoke_all also empties its
    # Basic cache and moves its identity-cache generation, after the write above.
    await credentials.revoke_all(identity_cache, basic_cache, str(named.id))
    named.password_hash, named.is_active, named.roles = password_hash, True, roles
    named.email_verified_at = verified_at
    audit("create_admin", None, user_id=named.id, promoted=True)
    return named, False


async def _create_admin(
    hasher: PasswordHasher,
    identity_cache: IdentityCache,
    username: str,
    email: str,
    email_key: str,
    password: str,
    named: User | None,
) -> User:
    taken: dict[str, str] = {}
    if named is not None:
        taken["username"] = (
            f"An account named {named.username} already exists; nothing was changed. To make that "
            "account an admin, run create-admin again with --promote and the account's own email."
        )
    if (named is None or named.email_key != email_key) and await User.filter(email_key=email_key).exists():
        taken["email"] = (
            "Another account has this email; nothing was changed. Use another email, or --promote "
            "with that account's username and email."
        )
    if taken:
        raise BadUserInput(taken)
    user = await register(hasher, None, username, email, password)
    # The operator supplies the address on the command line: it counts as verified.
    user.roles, user.email_verified_at = ["admin"], utcnow()
    await User.filter(id=user.id).update(roles=user.roles, email_verified_at=user.email_verified_at)
    await identity_cache.invalidate_user(str(user.id))
    audit("create_admin", None, user_id=user.id, promoted=False)
    return user
