"""A module defining a root field Gatehouse already has (`me`)."""

from __future__ import annotations

import strawberry

from auth.permissions import IsAuthenticated, gated


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(IsAuthenticated()))
    def me(self) -> str:
        return "not Gatehouse's"
