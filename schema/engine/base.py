"""The one interface every execution engine offers, and the steps they share.

A request reaches an engine as a query text, an operation name, variables and a
context. The engine prepares the text once (parse, then validate with the schema's
rules; cached by text), picks the operation, coerces the variables, and executes.
Each step that fails returns its errors with the `Phase` they came from, uncoded:
coding them is the HTTP face's one error exit (web/errors.py), which needs the phase
to tell a syntax error from a wrong value. Engines differ only in `run`.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import VariableValues, get_variable_values
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

# What the engines use that the libraries do not document, with the exact versions
# pinned in pyproject.toml; tests/schema/engine/test_relies_on.py fails, naming the
# entry, when an upgrade moves one.
RELIES_ON = {
    "strawberry.Schema._schema": "the GraphQLSchema Strawberry built (no public accessor)",
    "strawberry.Schema.execution_context_class": "the execution context Schema.execute uses",
    "strawberry.execution.optimized_is_awaitable": "Strawberry's is_awaitable for execute",
    "strawberry.schema.schema.StrawberryGraphQLCoreExecutionContext.build_resolve_info": (
        "the `info` Strawberry's resolvers expect (schema/engine/plans.py)"
    ),
    "strawberry.schema.validation_rules.maybe_null.MaybeNullValidationRule": "Strawberry's own rule",
    "strawberry.schema.validation_rules.one_of.OneOfInputValidationRule": "Strawberry's own rule",
    "strawberry.schema.schema_converter.GraphQLCoreConverter.from_resolver(field_exception_handlers)": (
        "the closure variable that says a resolver has no exception handlers (plans.Guard; "
        "tests/schema/engine/test_module_shapes.py fails when it moves)"
    ),
    "strawberry.types.info.Info(_raw_info=, _field=)": "how Strawberry builds `info` (plans.Guard)",
    "strawberry.types.field.StrawberryField.default_resolver": (
        "what a basic field's resolver calls with `python_name` (plans.FieldPlan reads it directly)"
    ),
    "graphql.type.scalars.serialize_string": "String answers a str as it is (plans: verbatim_str)",
    "graphql.type.scalars.serialize_id": "ID answers a str as it is (plans: verbatim_str)",
    "graphql.execute(executor_class=)": "graphql-core 3.3's name for the execution context class",
    "graphql.type.definition.GraphQLResolveInfoHelpers": "graphql-core 3.3's async helpers in `info`",
}
PINNED = {"strawberry-graphql": "0.341.2", "graphql-core": "3.3.2", "starlette": "1.10.0"}
PREPARED_CACHE_SIZE = 256  # distinct query texts kept parsed and validated
MAX_COERCION_ERRORS = 50  # graphql-core's default for `execute`


class Phase(Enum):
    """Where an error arose: before execution (the request is at fault) or during it."""

    PARSE = "parse"
    VALIDATION = "validation"
    VARIABLES = "variables"
    EXECUTION = "execution"


@dataclass(frozen=True)
class Prepared:
    """A query text parsed and validated, or the errors that stopped it, with their phase."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()
    phase: Phase | None = None
    # Operations by the `operationName` that selects each; `None` too when there is one.
    operations: Mapping[str | None, OperationDefinitionNode] = field(default_factory=dict)
    # What an engine keeps about the document (compiled plans), by operation.
    plans: Mapping[str | None, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What executing (or trying to) gave: `data` is absent (`has_data` False) when the
    request failed before execution."""

    data: dict[str, Any] | None
    errors: tuple[GraphQLError, ...]
    phase: Phase
    has_data: bool = True


class Engine(ABC):
    """Prepare once per text, execute per request; subclasses say how to execute."""

    name = "abstract"

    def __init__(
        self, schema: Any, rules: tuple[type[ASTValidationRule], ...], max_tokens: int
    ) -> None:
        self.schema = schema
        self.graphql_schema: GraphQLSchema = schema._schema
        self._rules = (*specified_rules, *rules, MaybeNullValidationRule, OneOfInputValidationRule)
        self._max_tokens = max_tokens
        # The parsed and validated `query`, from the cache when it was seen before
        # (functools' cache is in C: a hit costs a dict look-up, per request).
        self.prepare: Callable[[str], Prepared] = functools.lru_cache(maxsize=PREPARED_CACHE_SIZE)(
            self._prepare
        )

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError as error:
            return Prepared(None, (error,), Phase.PARSE)
        try:
            errors = validate(self.graphql_schema, document, self._rules)
        except RecursionError:
            # A long chain of fragment spreads sends a rule's walk (Strawberry's depth
            # limiter) past Python's recursion limit: the document is refused, and the
            # refusal is cached like any other.
            errors = [GraphQLError("The document nests fragments too deeply to validate.")]
        if errors:
            return Prepared(document, tuple(errors), Phase.VALIDATION)
        operations: dict[str | None, OperationDefinitionNode] = {}
        listed = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        for operation in listed:
            if operation.name is not None:
                operations[operation.name.value] = operation
        if len(listed) == 1:
            operations[None] = listed[0]
        return Prepared(document, (), None, operations, self.plan(document, operations))

    def plan(
        self, document: DocumentNode, operations: Mapping[str | None, OperationDefinitionNode]
    ) -> Mapping[str | None, Any]:
        """What this engine works out once per document (nothing, by default)."""
        return {}

    def coerce(
        self, operation: OperationDefinitionNode, variables: dict[str, Any] | None
    ) -> VariableValues | list[GraphQLError]:
        """The operation's variables coerced to their types, or the errors that stop it."""
        return get_variable_values(
            self.graphql_schema,
            operation.variable_definitions or (),
            variables or {},
            max_errors=MAX_COERCION_ERRORS,
        )

    async def execute(
        self,
        prepared: Prepared,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        context: Any,
    ) -> Outcome:
        """Run the chosen operation of a prepared document (its operation must exist:
        `operation_of` says so first)."""
        operation = prepared.operations[operation_name]
        coerced = self.coerce(operation, variables)
        if isinstance(coerced, list):
            return Outcome(None, tuple(coerced), Phase.VARIABLES, has_data=False)
        data, errors = await self.run(prepared, operation_name, operation, variables, coerced, context)
        return Outcome(data, tuple(errors), Phase.EXECUTION)

    @abstractmethod
    async def run(
        self,
        prepared: Prepared,
        operation_name: str | None,
        operation: OperationDefinitionNode,
        raw_variables: dict[str, Any] | None,
        coerced: VariableValues,
        context: Any,
    ) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        """Execute `operation` with `coerced` variables: `(data, errors)`."""


def operation_kind(prepared: Prepared, operation_name: str | None) -> OperationType | None:
    """The kind (query, mutation...) of the operation `operation_name` selects, or `None`
    when the document holds no such operation."""
    operation = prepared.operations.get(operation_name)
    return None if operation is None else operation.operation
