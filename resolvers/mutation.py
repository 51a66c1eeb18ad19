"""Mutation resolvers."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.identity import Identity, Scheme
from core.errors import BadUserInput
from models import Credential as CredentialRow
from models import User as UserRow
from schema.context import Context
from schema.inputs import LoginInput, RegisterInput
from schema.types import ApiTokenPayload, AuthPayload, Credential, Transport, User
from services import accounts, credentials

# The scheme (as named in AUTH_SCHEMES) that each sign-in transport hands out.
_TRANSPORT_SCHEME = {Transport.COOKIE: "session", Transport.BEARER: "jwt"}


def _require_transport(ctx: Context, transport: Transport | None) -> None:
    """Refuse, before any work, to hand out a credential this deployment would not accept."""
    scheme = _TRANSPORT_SCHEME[transport or Transport.COOKIE]
    if scheme not in ctx.backend.settings.auth_schemes:
        raise BadUserInput({"transport": f"The {scheme} authentication scheme is disabled on this server."})


async def _sign_in(ctx: Context, user: UserRow, transport: Transport | None) -> AuthPayload:
    """Issue the credential for `transport`; the rest of the operation runs as `user`."""
    if transport is Transport.BEARER:
        tokens = await credentials.issue_bearer(ctx.backend, user, ctx.client)
        return _bearer_payload(ctx, user, tokens)
    if ctx.identity.scheme is Scheme.SESSION and ctx.identity.credential_id:
        # A fresh id at every login: the old session (fixation risk) ends here.
        await CredentialRow.filter(id=ctx.identity.credential_id).delete()
        if ctx.identity.user_id is not None:
            await ctx.backend.invalidate_user(ctx.identity.user_id)
    session_id, row = await credentials.start_session(ctx.backend, user, ctx.client)
    ctx.start_session(session_id)
    ctx.identity = Identity(
        user=user, roles=frozenset(user.roles), scheme=Scheme.SESSION, credential_id=str(row.id)
    )
    return AuthPayload(user=User.from_row(user))


def _bearer_payload(ctx: Context, user: UserRow, tokens: credentials.BearerTokens) -> AuthPayload:
    """The payload of a new or rotated token pair; the rest of the operation runs as
    `user` in that family, so the payload's fields (`user { email }`) are checked against
    the user the tokens belong to: a committed credential always reaches the client."""
    ctx.identity = Identity(
        user=user, roles=frozenset(user.roles), scheme=Scheme.JWT, credential_id=tokens.family_id
    )
    return AuthPayload(
        user=User.from_row(user),
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_type="Bearer",
        expires_in=tokens.expires_in,
    )


async def register(info: Info[Context, None], input: RegisterInput) -> AuthPayload:
    """Create an account and sign in with the chosen transport."""
    ctx = info.context
    _require_transport(ctx, input.transport)
    user = await accounts.register(ctx.backend, input.username, input.email, input.password, ctx.client)
    return await _sign_in(ctx, user, input.transport)


async def login(info: Info[Context, None], input: LoginInput) -> AuthPayload:
    """Sign in with a username or email and a password."""
    ctx = info.context
    _require_transport(ctx, input.transport)
    user = await accounts.login(ctx.backend, input.login, input.password, ctx.client)
    return await _sign_in(ctx, user, input.transport)


async def logout(info: Info[Context, None], everywhere: bool | None = False) -> bool:
    """End this credential, or every credential of the user."""
    ctx = info.context
    await credentials.logout(ctx.backend, ctx.identity, bool(everywhere), ctx.client)
    if ctx.identity.scheme is Scheme.SESSION or everywhere:
        ctx.end_session()
    return True


async def refresh_token(info: Info[Context, None], refresh_token: str) -> AuthPayload:
    """Trade a refresh token for a new pair (rotation); the rest runs as the refreshed user."""
    ctx = info.context
    user, tokens = await credentials.rotate_refresh(ctx.backend, refresh_token, ctx.client)
    return _bearer_payload(ctx, user, tokens)


async def change_password(info: Info[Context, None], current_password: str, new_password: str) -> bool:
    """Change the password; every other credential ends."""
    ctx = info.context
    await accounts.change_password(ctx.backend, ctx.identity, current_password, new_password, ctx.client)
    return True


async def create_api_token(
    info: Info[Context, None],
    name: str,
    scopes: list[str] | None = [],  # noqa: B006 - never mutated
    expires_in_days: int | None = 90,
) -> ApiTokenPayload:
    """A new API token, shown once."""
    ctx = info.context
    token, row = await credentials.create_api_token(
        ctx.backend,
        ctx.identity,
        name,
        list(scopes or []),
        90 if expires_in_days is None else expires_in_days,
        ctx.client,
    )
    return ApiTokenPayload(token=token, credential=Credential.from_row(row, ctx.identity.credential_id))


async def revoke_credential(info: Info[Context, None], id: strawberry.ID) -> bool:
    """End one of the caller's credentials."""
    ctx = info.context
    await credentials.revoke_one(ctx.backend, ctx.identity, id, ctx.client)
    return True


async def grant_role(info: Info[Context, None], user_id: strawberry.ID, role: str) -> User:
    """Give a role to a user."""
    ctx = info.context
    return User.from_row(await accounts.grant_role(ctx.backend, user_id, role, ctx.identity, ctx.client))


async def revoke_role(info: Info[Context, None], user_id: strawberry.ID, role: str) -> User:
    """Take a role from a user."""
    ctx = info.context
    return User.from_row(await accounts.revoke_role(ctx.backend, user_id, role, ctx.identity, ctx.client))


async def set_user_active(info: Info[Context, None], user_id: strawberry.ID, active: bool) -> User:
    """Enable or disable an account."""
    ctx = info.context
    return User.from_row(await accounts.set_active(ctx.backend, user_id, active, ctx.identity, ctx.client))
