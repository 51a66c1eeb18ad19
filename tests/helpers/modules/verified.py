"""A module with a field for verified addresses only (`IsVerified`, printed `@isVerified`),
served by the account-mail tests to hold the permission to the real verification flow."""

from __future__ import annotations

import strawberry

from auth.permissions import IsVerified, gated


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(IsVerified()))
    def verified_only(self) -> str:
        return "welcome"
