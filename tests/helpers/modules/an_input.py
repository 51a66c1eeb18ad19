"""A module whose `Mutation` is a Strawberry input, not an object type."""

from __future__ import annotations

import strawberry


@strawberry.input
class Mutation:
    name: str
