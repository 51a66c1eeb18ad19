"""A module whose root field has the projects module's `projects_status` as its Python
name, under another GraphQL name (`twinStatus`)."""

from __future__ import annotations

import strawberry


def _status() -> str:
    return "twin"


@strawberry.type
class Query:
    projects_status: str = strawberry.field(name="twinStatus", resolver=_status, metadata={"public": True})
