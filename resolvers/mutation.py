"""Mutation resolvers: each reads the context, calls a service and wraps its result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from auth.identity import EXTERNAL_AMR, PASSWORD_AMR, Scheme
from auth.keyring import Signer
from core.errors import BadUserInput
from schema.context import Context
from schema.inputs import LoginInput, RegisterInput
from schema.types import ApiTokenPayload, AuthPayload, Credential, ExternalLogin, Transport, User
from services import account_deletion, accounts, credentials, external_identities

T = TypeVar("T")

# The scheme (as named in AUTH_SCHEMES) that each sign-in transport hands out.
_TRANSPORT_SCHEME = {Transport.COOKIE: "session", Transport.BEARER: "jwt"}


def _require_transport(ctx: Context, transport: Transport | None) -> None:
    """Refuse, before any work, to hand out a credential this deployment would not accept."""
    scheme = _TRANSPORT_SCHEME[transport or Transport.COOKIE]
    if scheme not in ctx.backend.settings.auth_schemes:
        raise BadUserInput({"transport": f"The {scheme} authentication scheme is disabled on this server."})


def _given(value: T | None) -> T | None:
    """An optional argument's value, `None` when the client left it out."""
    return None if value is strawberry.UNSET else value


def _signed_in(ctx: Context, signed: credentials.SignIn) -> AuthPayload:
    """The payload of a sign-in or refresh; the rest of the operation runs as the user
    signed in, so the payload's fields (`user { email }`) are checked against the user
    the credential belongs to: a committed credential always reaches the client."""
    ctx.identity = signed.identity
    if signed.session_id is not None:
        ctx.start_session(signed.session_id)
    tokens = signed.tokens
    if tokens is None:
        return AuthPayload(user=User.from_row(signed.user))
    return AuthPayload(
        user=User.from_row(signed.user),
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_type="Bearer",
        expires_in=tokens.expires_in,
    )


async def _sign_in(
    ctx: Context,
    user: accounts.Account,
    transport: Transport | None,
    amr: Sequence[str] = PASSWORD_AMR,
    signer: Signer | None = None,
) -> AuthPayload:
    """Issue the credential for `transport`, signed in by the methods `amr` (a BEARER
    pair's access token by `signer` when the caller took it first)."""
    auth = ctx.backend
    if transport is Transport.BEARER:
        signed = await credentials.sign_in_with_bearer(auth.bearer, user, ctx.client, amr, signer)
        return _signed_in(ctx, signed)
    signed = await credentials.sign_in_with_session(
        auth.sessions, auth.identity_cache, ctx.identity, user, ctx.client, amr
    )
    return _signed_in(ctx, signed)


async def register(info: Info[Context, None], input: RegisterInput) -> AuthPayload:
    """Create an account and sign in with the chosen transport."""
    ctx = info.context
    _require_transport(ctx, input.transport)
    auth = ctx.backend
    # A token pair needs a key to sign with: without one (NoUsableSigningKey) the account
    # is not created, so the client's retry registers instead of finding its name taken.
    signs_in = input.transport is Transport.BEARER and not auth.account_mail.verification_required
    signer = auth.bearer.signer() if signs_in else None
    user = await accounts.register(
        auth.hasher, auth.limiter, input.username, input.email, input.password, ctx.client
    )
    # The verification mail; with REQUIRE_VERIFIED_EMAIL no sign-in until it is used.
    await auth.account_mail.welcome(user, ctx.client)
    return await _sign_in(ctx, user, input.transport, signer=signer)


async def login(info: Info[Context, None], input: LoginInput) -> AuthPayload:
    """Sign in with a username or email and a password."""
    ctx = info.context
    _require_transport(ctx, input.transport)
    auth = ctx.backend
    user = await accounts.login(auth.limiter, auth.passwords, input.login, input.password, ctx.client)
    await auth.account_mail.check_may_sign_in(user, ctx.client)
    return await _sign_in(ctx, user, input.transport)


async def logout(info: Info[Context, None], everywhere: bool | None = False) -> bool:
    """End this credential, or every credential of the user."""
    ctx = info.context
    auth = ctx.backend
    strategy = auth.strategy_for(ctx.identity.scheme, ctx.identity.credential_kind)
    await credentials.logout(
        strategy, auth.identity_cache, auth.basic_cache, ctx.identity, bool(everywhere), ctx.client
    )
    if ctx.identity.scheme is Scheme.SESSION or everywhere:
        ctx.end_session()
    return True


async def refresh_token(info: Info[Context, None], refresh_token: str) -> AuthPayload:
    """Trade a refresh token for a new pair (rotation); the rest runs as the refreshed user."""
    ctx = info.context
    auth = ctx.backend
    signed = await credentials.rotate_refresh(
        auth.limiter, auth.bearer, auth.settings.auth_schemes, refresh_token, ctx.client
    )
    return _signed_in(ctx, signed)


async def change_password(info: Info[Context, None], current_password: str, new_password: str) -> bool:
    """Change the password; every other credential ends."""
    ctx = info.context
    auth = ctx.backend
    await accounts.change_password(
        auth.hasher,
        auth.limiter,
        auth.identity_cache,
        auth.basic_cache,
        ctx.identity,
        current_password,
        new_password,
        ctx.client,
    )
    return True


async def reauthenticate(
    info: Info[Context, None],
    # UNSET, not None: the SDL shows the contract's `password: String` without `= null`.
    password: str | None = strawberry.UNSET,
    code: str | None = strawberry.UNSET,
    passkey: JSON | None = strawberry.UNSET,
) -> bool:
    """Renew the current credential's sign-in (`auth_time`) by password, for fields that
    need a fresh one (`@requiresFreshAuth`); the rest of the operation runs renewed."""
    ctx = info.context
    auth = ctx.backend
    ctx.identity = await accounts.reauthenticate(
        auth.hasher,
        auth.limiter,
        auth.identity_cache,
        ctx.identity,
        _given(password),
        _given(code),
        _given(passkey),
        ctx.client,
    )
    return True


async def create_api_token(
    info: Info[Context, None],
    name: str,
    scopes: list[str] | None = [],  # noqa: B006 - never mutated
    expires_in_days: int | None = 90,
) -> ApiTokenPayload:
    """A new API token, shown once, with scopes the served schema names (its `known_scopes`,
    computed once when schema/build.py builds it)."""
    ctx = info.context
    token, row = await credentials.create_api_token(
        ctx.backend.api_tokens,
        ctx.identity,
        name,
        list(scopes or []),
        90 if expires_in_days is None else expires_in_days,
        ctx.client,
        known_scopes=info.schema.known_scopes,  # type: ignore[attr-defined]  # GatehouseSchema
    )
    return ApiTokenPayload(token=token, credential=Credential.from_row(row, ctx.identity.credential_id))


async def revoke_credential(info: Info[Context, None], id: strawberry.ID) -> bool:
    """End one of the caller's credentials."""
    ctx = info.context
    await credentials.revoke_one(ctx.backend.identity_cache, ctx.identity, id, ctx.client)
    return True


async def grant_role(info: Info[Context, None], user_id: strawberry.ID, role: str) -> User:
    """Give a role to a user."""
    ctx = info.context
    row = await accounts.grant_role(ctx.backend.identity_cache, user_id, role, ctx.identity, ctx.client)
    return User.from_row(row)


async def revoke_role(info: Info[Context, None], user_id: strawberry.ID, role: str) -> User:
    """Take a role from a user."""
    ctx = info.context
    row = await accounts.revoke_role(ctx.backend.identity_cache, user_id, role, ctx.identity, ctx.client)
    return User.from_row(row)


async def set_user_active(info: Info[Context, None], user_id: strawberry.ID, active: bool) -> User:
    """Enable or disable an account."""
    ctx = info.context
    auth = ctx.backend
    row = await accounts.set_active(
        auth.identity_cache, auth.basic_cache, user_id, active, ctx.identity, ctx.client
    )
    return User.from_row(row)


# -- account recovery and email (contract section 11) ------------------------------------


async def request_email_verification(info: Info[Context, None]) -> bool:
    """Mail the caller a new verification link."""
    ctx = info.context
    await ctx.backend.account_mail.request_verification(ctx.identity, ctx.client)
    return True


async def verify_email(info: Info[Context, None], token: str) -> bool:
    """Spend a verification link's token: the address is verified."""
    ctx = info.context
    await ctx.backend.account_mail.verify_email(ctx.backend.identity_cache, token, ctx.client)
    return True


async def request_password_reset(info: Info[Context, None], email: str) -> bool:
    """Mail a reset link if an account has this address; true either way."""
    ctx = info.context
    await ctx.backend.account_mail.request_password_reset(email, ctx.client)
    return True


async def reset_password(info: Info[Context, None], token: str, new_password: str) -> bool:
    """Spend a reset link's token for a new password; every credential of the user ends."""
    ctx = info.context
    auth = ctx.backend
    await auth.account_mail.reset_password(
        auth.hasher, auth.identity_cache, auth.basic_cache, token, new_password, ctx.client
    )
    return True


async def request_email_change(info: Info[Context, None], new_email: str, current_password: str) -> bool:
    """Mail a confirmation link to the new address."""
    ctx = info.context
    await ctx.backend.account_mail.request_email_change(
        ctx.backend.hasher, ctx.identity, new_email, current_password, ctx.client
    )
    return True


async def confirm_email_change(info: Info[Context, None], token: str) -> bool:
    """Spend a confirmation link's token: the account moves to the new address."""
    ctx = info.context
    auth = ctx.backend
    await auth.account_mail.confirm_email_change(auth.identity_cache, auth.basic_cache, token, ctx.client)
    return True


async def _begin(ctx: Context, provider: str, redirect_to: str | None, purpose: str) -> ExternalLogin:
    """A provider flow bound to this browser (its flow cookie, written by the transport)."""
    auth = ctx.backend
    url = await external_identities.begin_flow(
        auth.federation,
        auth.limiter,
        provider,
        purpose=purpose,
        redirect_to=_given(redirect_to),
        own_origins=ctx.own_origins(),
        allowed_origins=auth.settings.allowed_origins,
        callback_base=ctx.public_base(),
        binding=ctx.external_flow_binding(),
        client=ctx.client,
        user=ctx.identity.user if purpose == external_identities.LINK else None,
        credential_id=ctx.identity.credential_id if purpose == external_identities.LINK else None,
    )
    return ExternalLogin(url=url)


async def begin_external_login(
    info: Info[Context, None], provider: str, redirect_to: str | None = strawberry.UNSET
) -> ExternalLogin:
    """Start a browser sign-in with another provider; its callback sets the session cookie
    and sends the browser to `redirectTo` (this server's origin or ALLOWED_ORIGINS)."""
    ctx = info.context
    _require_transport(ctx, Transport.COOKIE)
    return await _begin(ctx, provider, redirect_to, external_identities.LOGIN)


async def link_external_identity(
    info: Info[Context, None], provider: str, redirect_to: str | None = strawberry.UNSET
) -> ExternalLogin:
    """Start a flow whose callback links the provider's identity to the caller's account."""
    return await _begin(info.context, provider, redirect_to, external_identities.LINK)


async def login_with_id_token(
    info: Info[Context, None],
    provider: str,
    id_token: str,
    nonce: str | None = strawberry.UNSET,
    transport: Transport | None = Transport.BEARER,
) -> AuthPayload:
    """Sign in with an ID token a native app's SDK holds (BEARER by default)."""
    ctx = info.context
    transport = transport or Transport.BEARER
    _require_transport(ctx, transport)
    auth = ctx.backend
    # A token pair needs a key to sign with: taken before the ID token is spent and an
    # account made, so that without one (NoUsableSigningKey) the retry can still sign in.
    signer = auth.bearer.signer() if transport is Transport.BEARER else None
    user = await external_identities.sign_in_with_id_token(
        auth.federation,
        auth.limiter,
        provider,
        id_token,
        _given(nonce),
        ctx.client,
        require_verified_email=auth.settings.require_verified_email,
    )
    return await _sign_in(ctx, user, transport, EXTERNAL_AMR, signer=signer)


async def delete_account(info: Info[Context, None], current_password: str) -> bool:
    """Delete the caller's account; every credential ends, the session cookie is cleared."""
    ctx = info.context
    auth = ctx.backend
    await account_deletion.delete_account(
        auth.hasher,
        auth.limiter,
        auth.identity_cache,
        auth.basic_cache,
        ctx.identity,
        current_password,
        ctx.client,
    )
    if ctx.identity.scheme is Scheme.SESSION:
        ctx.end_session()
    return True
