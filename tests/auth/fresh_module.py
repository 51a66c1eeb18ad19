"""A schema module for the step-up tests (`SCHEMA_MODULES=tests.auth.fresh_module`):
fields that need a fresh sign-in or a verified address (nullable, so that a refusal can
sit beside other data), and one that shows the identity's sign-in, guarded by
Gatehouse's permission classes."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import IsAuthenticated, IsVerified, RequiresFreshAuth, gated

MAX_AGE = 300


@strawberry.type
class SignInView:
    """What `info.context.identity` says of the sign-in behind this request."""

    auth_time: str | None
    amr: list[str]
    credential_kind: str | None


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(RequiresFreshAuth(MAX_AGE)))
    def fresh_secret(self) -> str | None:
        return "fresh"

    @strawberry.field(extensions=gated(IsVerified()))
    def verified_secret(self) -> str | None:
        return "verified"

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def sign_in(self, info: Info) -> SignInView:
        identity = info.context.identity
        return SignInView(
            auth_time=identity.auth_time.isoformat() if identity.auth_time else None,
            amr=list(identity.amr),
            credential_kind=identity.credential_kind,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=gated(IsAuthenticated(), RequiresFreshAuth(MAX_AGE)))
    def fresh_write(self) -> bool:
        return True
