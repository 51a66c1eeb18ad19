"""The faster engine: compiled plans for the common queries, graphql-core for the rest.

Plans (schema/engine/plans.py) are worked out once per prepared document; an operation
without one (mutations, directives, introspection...) runs on graphql-core exactly as
the reference engine runs it. `tests/e2e/test_engine_differential.py` holds the two
engines to the same HTTP answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from graphql.execution.values import VariableValues

from schema.engine.base import Prepared
from schema.engine.graphql_core import GraphQLCoreEngine
from schema.engine.plans import CompiledQuery, compile_query


class CompiledEngine(GraphQLCoreEngine):
    """Runs a compiled plan when the operation has one."""

    name = "compiled"

    def plan(
        self, document: DocumentNode, operations: Mapping[str | None, OperationDefinitionNode]
    ) -> Mapping[str | None, CompiledQuery]:
        """A plan for each operation that compiles (by the same keys as `operations`)."""
        plans: dict[str | None, CompiledQuery] = {}
        compiled_by_node: dict[int, CompiledQuery | None] = {}
        for name, operation in operations.items():
            if id(operation) not in compiled_by_node:
                compiled_by_node[id(operation)] = compile_query(self.graphql_schema, document, operation)
            compiled = compiled_by_node[id(operation)]
            if compiled is not None:
                plans[name] = compiled
        return plans

    async def run(
        self,
        prepared: Prepared,
        operation_name: str | None,
        operation: OperationDefinitionNode,
        raw_variables: dict[str, Any] | None,
        coerced: VariableValues,
        context: Any,
    ) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        """The plan with the coerced variables, else graphql-core."""
        compiled: CompiledQuery | None = prepared.plans.get(operation_name)
        if compiled is None:
            return await super().run(prepared, operation_name, operation, raw_variables, coerced, context)
        return await compiled.execute(context, coerced)
