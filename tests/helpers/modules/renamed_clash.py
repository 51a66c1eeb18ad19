"""A module whose root field has Gatehouse's `me` as its Python name, under another
GraphQL name (`moduleMe`): class inheritance would keep only one of the two."""

from __future__ import annotations

import strawberry


def _me() -> str:
    return "the module's me"


@strawberry.type
class Query:
    me: str = strawberry.field(name="moduleMe", resolver=_me, metadata={"public": True})
