"""A module with a root field that forgot its permission: start-up must refuse it."""

from __future__ import annotations

import strawberry

from auth.permissions import IsAuthenticated, gated


@strawberry.type
class Query:
    @strawberry.field
    def leaky_reports(self) -> list[str]:
        """Nobody gated this one."""
        return ["everything"]

    @strawberry.field(extensions=gated(IsAuthenticated()))
    def guarded_reports(self) -> list[str]:
        return []


@strawberry.type
class Mutation:
    @strawberry.mutation
    def wipe_reports(self) -> bool:
        """Nor this one."""
        return True
