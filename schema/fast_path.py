"""Execution without Strawberry's per-request machinery, for the common request shape.

Strawberry's HTTP view and `Schema.execute` build a request adapter and an execution
context and dispatch every extension hook on each request: together more than all of
Gatehouse's authentication costs (see bench/RESULTS.md). For a POST whose JSON body is
an object with a `query` string (and optional `variables` object and `operationName`
string), this module parses and validates each distinct query text once (an LRU
cache), then runs graphql-core's `execute` on Strawberry's schema with the same
arguments `Schema.execute` passes. The resolvers, permission classes and error codes
are the very same; anything else (the IDE, batches, odd bodies) goes through
Strawberry's view.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    execute,
    parse,
    specified_rules,
    validate,
)
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionResult

from core.errors import BadUserInput
from schema.compiled import CompiledQuery, compile_operations
from schema.errors import classify
from schema.input_limits import UNSAFE_TEXT, check_variables, unsafe_text

PREPARED_CACHE_SIZE = 256  # distinct query texts kept parsed and validated
PLAIN_KEYS = frozenset({"query", "variables", "operationName", "extensions"})


class PreparedOperation(NamedTuple):
    """A parsed document, or the errors (already coded) that stop it before execution,
    and the compiled plans of its operations (see schema/compiled.py)."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    plans: dict[str | None, CompiledQuery]


class FastRequest(NamedTuple):
    """The parts of a plain GraphQL-over-HTTP JSON body."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


def read_plain_request(body: bytes) -> FastRequest | None:
    """The operation in `body` when it has the plain shape; `None` sends it the long way.

    Raises `BadUserInput` for variables nested too deep or holding unsafe text (see
    schema/input_limits.py): one walk, only when there are variables. orjson itself
    refuses unpaired surrogates (and nesting past 1024): such bodies go the long way,
    whose reader checks the whole body.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:  # also too deep or not UTF-8
        return None
    if not isinstance(payload, dict) or not PLAIN_KEYS.issuperset(payload):
        return None
    query, variables, name = payload.get("query"), payload.get("variables"), payload.get("operationName")
    if not isinstance(query, str) or not query or payload.get("extensions") is not None:
        return None
    if not isinstance(variables, (dict, type(None))) or not isinstance(name, (str, type(None))):
        return None
    if name and unsafe_text(name):
        raise BadUserInput({"operationName": UNSAFE_TEXT})
    if variables and check_variables(variables):
        # orjson reads integers beyond 64 bits as floats; the schema has no Float
        # argument, so a float can only be such an integer: let `json` read it exactly.
        return None
    return FastRequest(query, variables, name)


class FastExecutor:
    """Parses and validates once per query text; executes like `Schema.execute`."""

    def __init__(self, schema: Any, rules: tuple[type[ASTValidationRule], ...], max_tokens: int) -> None:
        self._schema = schema
        self._graphql_schema = schema._schema
        self._rules = (*specified_rules, *rules, MaybeNullValidationRule, OneOfInputValidationRule)
        self._max_tokens = max_tokens
        self._executor_kwargs = execution_context_class_kwargs(schema.execution_context_class)
        self.prepare = lru_cache(maxsize=PREPARED_CACHE_SIZE)(self._prepare)

    def _coded(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        # Strips "Did you mean" in production, exactly as Strawberry does.
        self._schema._process_errors(errors)
        return [classify(error) for error in errors]

    def _prepare(self, query: str) -> PreparedOperation:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError as error:
            return PreparedOperation(None, self._coded([error]), {})
        errors = validate(self._graphql_schema, document, self._rules)
        if errors:
            return PreparedOperation(document, self._coded(errors), {})
        return PreparedOperation(document, [], compile_operations(self._graphql_schema, document))

    async def execute(self, request: FastRequest, context: Any) -> ExecutionResult:
        """Run the operation with `context`; errors leave with their codes."""
        prepared = self.prepare(request.query)
        if prepared.document is None or prepared.errors:
            return ExecutionResult(data=None, errors=list(prepared.errors))
        compiled = prepared.plans.get(request.operation_name)
        if compiled is not None:
            data, found = await compiled.execute(context, request.variables)
            return ExecutionResult(data=data, errors=self._coded(found) if found else None)
        result: Any = execute(
            self._graphql_schema,
            prepared.document,
            context_value=context,
            variable_values=request.variables,
            operation_name=request.operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            **self._executor_kwargs,
        )
        if inspect.isawaitable(result):
            result = await result
        errors = self._coded(result.errors) if result.errors else None
        return ExecutionResult(data=result.data, errors=errors)
