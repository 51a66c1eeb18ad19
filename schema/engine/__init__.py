"""Execution engines behind one interface (`base.Engine`): `compiled` (the default, faster)
and `graphql-core` (the reference, `GRAPHQL_EXECUTOR=graphql-core`)."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from schema.engine.base import Engine, Outcome, Phase, Prepared, operation_kind
from schema.engine.compiled import CompiledEngine
from schema.engine.graphql_core import GraphQLCoreEngine

ENGINES: dict[str, type[Engine]] = {"compiled": CompiledEngine, "graphql-core": GraphQLCoreEngine}

__all__ = ["ENGINES", "Engine", "Outcome", "Phase", "Prepared", "build_engine", "operation_kind"]


def build_engine(schema: Any, settings: Settings) -> Engine:
    """The engine `settings.graphql_executor` names, with the schema's guard rules."""
    return ENGINES[settings.graphql_executor](schema, schema.guard_rules, schema.max_tokens)
