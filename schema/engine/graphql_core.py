"""The reference engine: graphql-core's own `execute`, on Strawberry's schema."""

from __future__ import annotations

import inspect
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, execute
from graphql.execution.values import VariableValues
from strawberry.execution import optimized_is_awaitable

from schema.engine.base import Engine, Prepared


class GraphQLCoreEngine(Engine):
    """Executes with graphql-core, passing what Strawberry's `Schema.execute` passes."""

    name = "graphql-core"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry's execution context class, as `Schema.execute` passes it.
        executor_class = self.schema.execution_context_class
        self._executor_kwargs = {"executor_class": executor_class} if executor_class else {}

    async def run(
        self,
        prepared: Prepared,
        operation_name: str | None,
        operation: OperationDefinitionNode,
        raw_variables: dict[str, Any] | None,
        coerced: VariableValues,
        context: Any,
    ) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        """graphql-core coerces the raw variables again (they passed `coerce` already):
        handing it coerced values would coerce enums and scalars twice."""
        assert prepared.document is not None
        result: Any = execute(
            self.graphql_schema,
            prepared.document,
            context_value=context,
            variable_values=raw_variables,
            operation_name=operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            **self._executor_kwargs,
        )
        if inspect.isawaitable(result):
            result = await result
        return result.data, list(result.errors or ())
