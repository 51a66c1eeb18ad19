"""Credentials: sessions, bearer token pairs, API tokens; listing and revocation."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from auth.basic_cache import BasicCache
from auth.identity import PASSWORD_AMR, Identity, Scheme
from auth.identity_cache import IdentityCache
from auth.keyring import Signer
from auth.passwords import has_password
from auth.ratelimit import LoginLimiter
from auth.strategy.api_token import ApiTokenStrategy
from auth.strategy.base import Strategy
from auth.strategy.bearer import BearerStrategy, BearerTokens
from auth.strategy.refresh import RefreshRejected
from auth.strategy.session import SessionStrategy
from core.client import ClientInfo
from core.clock import utcnow
from core.errors import BadUserInput, Forbidden, Unauthenticated
from models import Credential, CredentialKind, User
from services import credential_rows
from services.audit import audit

# The scope an API token needs to act on the user's other credentials.
MANAGE_SCOPE = "credentials:write"
# The scope of a service's token that asks `POST /oauth/introspect` about other tokens.
INTROSPECT_SCOPE = "tokens:introspect"
ADMIN_ROLE = "admin"
# Scopes no field of the schema names, each with the role a token's owner must hold to
# create it and, for as long as the token is used, to keep using it: introspection
# tells who holds any live token, an administrator's knowledge.
ROLE_BOUND_SCOPES: dict[str, str] = {INTROSPECT_SCOPE: ADMIN_ROLE}
TOKEN_NAME_MAX = 100
LAST_WAY_IN = (
    "This linked identity is the only way to sign in to this account: link another provider, "
    "or give the account a password (requestPasswordReset), before unlinking it."
)
SCOPE_ECHO_MAX = 40  # longest unknown scope repeated back in an error message


@dataclass(frozen=True)
class SignIn:
    """A sign-in's credential and the identity the rest of its operation runs as.

    `session_id` is the new cookie's value (cookie sign-ins), `tokens` the new pair
    (bearer sign-ins and refreshes).
    """

    identity: Identity
    session_id: str | None = None
    tokens: BearerTokens | None = None

    @property
    def user(self) -> User:
        """The user signed in."""
        assert self.identity.user is not None
        return self.identity.user


async def sign_in_with_session(
    sessions: SessionStrategy,
    identity_cache: IdentityCache,
    current: Identity,
    user: User,
    client: ClientInfo,
    amr: Sequence[str] = PASSWORD_AMR,
) -> SignIn:
    """A new server-side session, signed in now by the methods `amr`, with a new id at
    every sign-in: the session the request came with (`current`) ends here, so an id
    fixed by someone else never gains a user."""
    if current.scheme is Scheme.SESSION and current.credential_id:
        await sessions.discard(current.credential_id)
        if current.user_id is not None:
            await identity_cache.invalidate_user(current.user_id)
    session_id, row = await sessions.write_token(user, client, amr)
    identity = Identity(
        user=user,
        roles=frozenset(user.roles),
        scheme=Scheme.SESSION,
        credential_id=str(row.id),
        auth_time=row.auth_time,
        amr=tuple(row.amr or ()),
        credential_kind=CredentialKind.SESSION.value,
    )
    return SignIn(identity, session_id=session_id)


def _bearer_sign_in(user: User, tokens: BearerTokens) -> SignIn:
    identity = Identity(
        user=user,
        roles=frozenset(user.roles),
        scheme=Scheme.JWT,
        credential_id=tokens.family_id,
        auth_time=tokens.auth_time,
        amr=tokens.amr,
        credential_kind=CredentialKind.REFRESH.value,
    )
    return SignIn(identity, tokens=tokens)


async def sign_in_with_bearer(
    bearer: BearerStrategy,
    user: User,
    client: ClientInfo,
    amr: Sequence[str] = PASSWORD_AMR,
    signer: Signer | None = None,
) -> SignIn:
    """A new refresh-token family, signed in now by the methods `amr`, and its first
    access token (signed by `signer` when the caller took it before its own writes)."""
    return _bearer_sign_in(user, await bearer.write_token(user, client, amr, signer))


async def rotate_refresh(
    limiter: LoginLimiter,
    bearer: BearerStrategy,
    enabled_schemes: Collection[str],
    token: str,
    client: ClientInfo,
) -> SignIn:
    """Spend a refresh token for a new pair; reuse ends the whole family.

    Exchanges count against a per-IP limit (`RateLimited` when over). A family past
    its absolute end (`REFRESH_FAMILY_MAX_AGE`) is refused like an expired token, and
    the new access token never outlives that end either. The refreshed user's identity
    is the one the rest of the operation runs as.
    """
    await limiter.refresh_attempt(client.ip)
    if Scheme.JWT.value not in enabled_schemes:
        # The pair would hold an access token this server refuses: say so instead.
        raise Unauthenticated("The jwt authentication scheme is disabled on this server.")
    try:
        user, tokens = await bearer.rotate(token)
    except RefreshRejected as exc:
        audit("refresh_rejected", client, reason=str(exc))
        raise Unauthenticated("Invalid, expired or revoked refresh token.") from None
    return _bearer_sign_in(user, tokens)


async def revoke_all(
    identity_cache: IdentityCache, basic_cache: BasicCache, user_id: str, keep: str | None = None
) -> int:
    """End every live credential of a user but `keep`; empty their Basic cache too."""
    count = await credential_rows.revoke_all_of(user_id, keep)
    await basic_cache.forget_user(user_id)
    await identity_cache.invalidate_user(user_id)
    return count


async def logout(
    strategy: Strategy,
    identity_cache: IdentityCache,
    basic_cache: BasicCache,
    identity: Identity,
    everywhere: bool,
    client: ClientInfo,
) -> None:
    """End the credential the request came with (through `strategy`, the one that read
    it), or all of the user's with `everywhere`.

    Ending the user's other credentials is credential management: an API token needs the
    `credentials:write` scope for `everywhere` (`Forbidden` otherwise, nothing revoked),
    while any token may end itself.
    """
    user_id = identity.user_id
    assert user_id is not None
    if everywhere and not identity.has_scope(MANAGE_SCOPE):
        raise Forbidden(
            f"Ending every credential needs the {MANAGE_SCOPE} scope; logout alone ends this one."
        )
    if everywhere:
        await revoke_all(identity_cache, basic_cache, user_id)
    else:
        await strategy.destroy_token(identity)
        await identity_cache.invalidate_user(user_id)
    audit("logout", client, user_id=user_id, everywhere=everywhere, credential_id=identity.credential_id)


async def list_live(user_id: str) -> list[Credential]:
    """The user's credentials that still work, newest first."""
    return await credential_rows.live_of(user_id)


async def revoke_one(
    identity_cache: IdentityCache, identity: Identity, credential_id: str, client: ClientInfo
) -> None:
    """End one of the caller's own credentials; anyone else's id answers as unknown. A
    linked identity that is the only way into an account without a password stays
    (`BAD_USER_INPUT`): unlinking it would lock its owner out for good."""
    try:
        parsed = uuid.UUID(credential_id)
    except ValueError:
        raise BadUserInput({"id": "No such credential."}) from None
    assert identity.user_id is not None and identity.user is not None
    kind = await credential_rows.kind_of_own(identity.user_id, str(parsed))
    if (
        kind is CredentialKind.EXTERNAL
        and not has_password(identity.user.password_hash)
        and await credential_rows.live_links_of(identity.user_id) <= 1
    ):
        raise BadUserInput({"id": LAST_WAY_IN})
    if not await credential_rows.revoke_own(identity.user_id, str(parsed)):
        raise BadUserInput({"id": "No such credential."})
    await identity_cache.invalidate_user(identity.user_id)
    audit("revoke_credential", client, user_id=identity.user_id, credential_id=parsed)


def _name_problem(name: str) -> str | None:
    """Why `name` cannot name a token, or `None`. Control characters (NUL included), lone
    surrogates and other unprintable code points are refused before they reach a
    database driver, which would fail on them (a 500)."""
    stripped = name.strip()
    if not 1 <= len(stripped) <= TOKEN_NAME_MAX or not stripped.isprintable():
        return f"Use 1 to {TOKEN_NAME_MAX} printable characters (no control characters)."
    return None


def _unknown_scopes_message(unknown: list[str], known_scopes: Collection[str]) -> str:
    # Only short printable values are echoed: a lone surrogate in an error message would
    # make the answer itself unencodable.
    shown = [s for s in sorted(set(unknown)) if len(s) <= SCOPE_ECHO_MAX and s.isprintable()][:5]
    named = f" {', '.join(shown)}" if shown else ""
    return f"Unknown scope(s){named}; known: {', '.join(sorted(known_scopes))}."


def check_token_request(
    name: str, scopes: list[str], expires_in_days: int, max_days: int, *, known_scopes: Collection[str]
) -> list[str]:
    """Validate a token request; returns the de-duplicated scopes.

    `name`: 1 to 100 printable characters once stripped; `scopes`: among `known_scopes`,
    the scopes the served schema's `HasScope` permissions name (schema/build.py
    `named_scopes`, modules' fields included) or `ROLE_BOUND_SCOPES`; `expires_in_days`:
    1 to `max_days`. Each problem is `BadUserInput` on its field.
    """
    problems: dict[str, str] = {}
    if message := _name_problem(name):
        problems["name"] = message
    unknown = [s for s in scopes if s not in known_scopes and s not in ROLE_BOUND_SCOPES]
    if unknown:
        problems["scopes"] = _unknown_scopes_message(unknown, {*known_scopes, *ROLE_BOUND_SCOPES})
    if not 1 <= expires_in_days <= max_days:
        problems["expiresInDays"] = f"Use 1 to {max_days} days."
    if problems:
        raise BadUserInput(problems)
    return sorted(set(scopes))


def check_role_bound_scopes(identity: Identity, scopes: Collection[str]) -> None:
    """`Forbidden` when `scopes` hold a scope of `ROLE_BOUND_SCOPES` whose role the
    identity's user lacks (its roles as read on this request, so a withdrawn role counts
    at once). A permission, not an input error: the scope exists, the caller may not have it."""
    for scope in sorted(set(scopes)):
        role = ROLE_BOUND_SCOPES.get(scope)
        if role is not None and not identity.has_role(role):
            raise Forbidden(f"Only a user with the {role} role may hold the {scope} scope.")


def check_token_bounds(identity: Identity, scopes: list[str], expires_at: datetime, now: datetime) -> None:
    """A token never creates one that carries scopes it lacks or outlives it.

    Full-rights credentials (session, JWT, Basic) stand for a password sign-in and may
    create any token up to the longest lifetime; an API token's scopes and expiry are its
    limit, so what it creates stays inside both.
    """
    problems: dict[str, str] = {}
    if identity.scopes is not None and not set(scopes) <= identity.scopes:
        problems["scopes"] = "A token cannot grant scopes its creator lacks."
    creator_end = identity.expires_at if identity.scheme is Scheme.TOKEN else None
    if creator_end is not None and expires_at > creator_end:
        left = (creator_end - now) // timedelta(days=1)
        problems["expiresInDays"] = (
            f"A token cannot outlive the token that creates it; use at most {left} days."
            if left >= 1
            else "A token cannot outlive the token that creates it, which expires within a day."
        )
    if problems:
        raise BadUserInput(problems)


async def create_api_token(
    api_tokens: ApiTokenStrategy,
    identity: Identity,
    name: str,
    scopes: list[str],
    expires_in_days: int,
    client: ClientInfo,
    *,
    known_scopes: Collection[str],
) -> tuple[str, Credential]:
    """A new API token, returned once, carrying some of `known_scopes` (see
    `check_token_request`). A token can never get scopes its creator lacks, nor, when an
    API token creates it, outlive its creator; a role-bound scope (`tokens:introspect`)
    needs its role (`Forbidden`)."""
    scopes = check_token_request(
        name, scopes, expires_in_days, api_tokens.max_days, known_scopes=known_scopes
    )
    check_role_bound_scopes(identity, scopes)
    now = utcnow()
    check_token_bounds(identity, scopes, now + timedelta(days=expires_in_days), now)
    assert identity.user is not None
    # The token records its creator's sign-in (Basic's is this request).
    token, row = await api_tokens.write_token(
        identity.user,
        name.strip(),
        scopes,
        expires_in_days,
        client.user_agent,
        now=now,
        auth_time=identity.auth_time,
        amr=identity.amr,
    )
    audit("create_api_token", client, user_id=identity.user_id, credential_id=row.id)
    return token, row


def check_introspector(identity: Identity) -> None:
    """The caller of `POST /oauth/introspect`: an API token carrying `tokens:introspect`
    (a full-rights credential does not count: a service holds a token made for the job)
    whose owner holds the scope's role on this very request. `Forbidden` otherwise."""
    if identity.scheme is not Scheme.TOKEN or not identity.scopes or INTROSPECT_SCOPE not in identity.scopes:
        raise Forbidden(f"Introspection needs an API token with the {INTROSPECT_SCOPE} scope.")
    check_role_bound_scopes(identity, (INTROSPECT_SCOPE,))
