"""A module whose `Query` is a plain class, not a Strawberry type."""

from __future__ import annotations


class Query:
    def reports(self) -> list[str]:
        return []
