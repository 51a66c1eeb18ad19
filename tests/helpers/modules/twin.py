"""A module defining a root field the projects module has too (`projectsStatus`)."""

from __future__ import annotations

import strawberry


@strawberry.type
class Query:
    @strawberry.field(metadata={"public": True})
    def projects_status(self) -> str:
        return "twin"
