"""Compiled execution of cached queries: the same resolvers and rules, less machinery.

graphql-core's executor works out again, on every request and for every field, what a
cached document already fixes: the grouped fields, each field's definition and return
type, and which kind of completion applies. `compile_query` works that out once per
(document, operation); `CompiledQuery.execute` then walks the plan. It calls the very
resolvers Strawberry built (permission extensions included), with the same `info`
object, completes values with the same leaf serialisers, and locates and propagates
errors as the specification says: a null in a non-null position nulls the nearest
nullable parent, and the error carries the path and locations of its field.

Queries are compiled whose selections are fields (`__typename` included) and
fragments, without directives, on object types and on interfaces and unions: an
abstract type gets one sub-plan per possible object type, and its value goes through
the type's `resolve_type` (or graphql-core's default type resolver) and the same
runtime-type checks and errors as graphql-core's `complete_abstract_value`. Anything
else (mutations, `@skip`/`@include`, introspection, fragment variables, a plan past
`PLAN_BUDGET` field plans) makes `compile_query` return `None`, and the operation runs
on graphql-core. A plain attribute whose only extension is a permission check skips
Strawberry's resolver chain (`Guard`) and runs the same checks directly.
`tests/schema/engine/test_plans.py` and `test_module_shapes.py` hold the two engines to
the same answers.

One deliberate difference: sibling fields that return awaitables are awaited one after
another, not concurrently. Their order does not change any answer; a query's fields
must not depend on each other.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    default_type_resolver,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Path, Undefined, inspect, is_iterable
from graphql.type.definition import GraphQLField, GraphQLResolveInfoHelpers
from graphql.type.scalars import serialize_id, serialize_string
from strawberry.execution import optimized_is_awaitable as is_awaitable
from strawberry.permission import PermissionExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from auth.permissions import GatedExtension, refused

logger = logging.getLogger("gatehouse.compiled")

TYPENAME = "__typename"

# Strawberry's resolver for a field without resolver or extensions ignores `info`.
_BASIC_RESOLVER_NAME = "_get_basic_result"
_build_info = StrawberryGraphQLCoreExecutionContext.build_resolve_info
# Types a plain attribute's value often has that are never awaitable: checked before
# `is_awaitable`, which knows only builtins this cheaply.
_LEAF_VALUES = frozenset({str, int, float, bool, type(None), uuid.UUID, datetime.datetime, datetime.date})
# Field plans one operation may hold: an abstract type multiplies its selection by its
# possible types, and a nest of them could otherwise make a plan huge.
PLAN_BUDGET = 2000


class NotCompilable(Exception):
    """The operation uses something the plan does not cover; graphql-core runs it."""


Complete = Callable[["Execution", "FieldPlan", Any, Any], Any]  # (execution, field, path, result)


class Guard:
    """A field read off its parent whose only extension is Strawberry's `PermissionExtension`
    with synchronous permissions (every `gated(...)` attribute, such as `User.email`).

    Strawberry reaches such a field through its resolver wrapper, the argument converter,
    a chain of partials and the extension; `resolve` does what that chain does, in the same
    order and with the same `info`, errors and fail-silently answers: each permission's
    `has_permission(source, info)` must return `True`, and any other answer is handled by
    `auth.permissions.refused`, as `GatedExtension` handles it (an awaitable or a
    non-boolean raises Strawberry's own errors, `False` answers with the permission's
    `on_unauthorized()`, or `None`/`[]` when failing silently); only then is the
    attribute read. Anything else about the field (a resolver, arguments, async
    permissions, other extensions, exception handlers) keeps Strawberry's chain.
    """

    __slots__ = ("extension", "field", "info_class", "permissions", "python_name", "read")

    def __init__(self, field: Any, extension: PermissionExtension, info_class: type) -> None:
        self.field = field
        self.info_class = info_class
        self.extension = extension
        self.permissions = tuple(extension.permissions)
        self.read = field.default_resolver
        self.python_name = field.python_name

    @classmethod
    def of(
        cls, schema: GraphQLSchema, parent_type: GraphQLObjectType, definition: GraphQLField
    ) -> Guard | None:
        """The guard of `definition`, or `None` when Strawberry's own chain must run it."""
        field = (definition.extensions or {}).get("strawberry-definition")
        strawberry_schema = getattr(schema, "_strawberry_schema", None)
        if field is None or strawberry_schema is None or definition.args:
            return None
        extensions = list(getattr(field, "extensions", None) or ())
        if len(extensions) != 1 or not _plain_permission_check(schema, parent_type, extensions[0]):
            return None
        extension = extensions[0]
        if field.base_resolver is not None or field.is_async or not extension.supports_sync:
            return None
        if getattr(field, "default_resolver", None) is None or _exception_handlers(definition.resolve) != ():
            return None
        return cls(field, extension, strawberry_schema.config.info_class)

    def resolve(self, source: Any, info: Any) -> Any:
        """What Strawberry's resolver of the field returns (or raises), given its `info`."""
        for permission in self.permissions:
            allowed = permission.has_permission(source, info)
            if allowed is not True:
                return refused(self.extension, permission, allowed)
        return self.read(source, self.python_name)


class _LazyInfo:
    """Strawberry's `Info` for a guarded field (`info_class(_raw_info=, _field=)`, over the
    resolve info `Execution.info` builds), built only when a permission reads more than
    `context`: Gatehouse's read only the identity in it, and a page of 20 users would
    otherwise build 20 of each for `email` alone."""

    __slots__ = ("_built", "_execution", "_path", "_plan", "context")

    def __init__(self, execution: Execution, plan: FieldPlan, path: Path) -> None:
        self.context = execution.context_value
        self._execution = execution
        self._plan = plan
        self._path = path
        self._built: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            guard = self._plan.guard
            assert guard is not None
            raw_info = self._execution.info(self._plan, self._path)
            self._built = guard.info_class(_raw_info=raw_info, _field=guard.field)
        return getattr(self._built, name)


def _plain_permission_check(schema: GraphQLSchema, parent_type: GraphQLObjectType, extension: Any) -> bool:
    """Whether `extension` resolves exactly as Strawberry's `PermissionExtension` does:
    that class itself, or Gatehouse's `GatedExtension` on a field of an object type (it
    adds its object-level judgement only to root fields, whose value it judges)."""
    if type(extension) is PermissionExtension:
        return True
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    return type(extension) is GatedExtension and parent_type not in roots


def _exception_handlers(resolve: Any) -> Any:
    """The exception handlers Strawberry bound to a field's resolver (`()` when none can
    apply), or `None` when the resolver does not say."""
    code = getattr(resolve, "__code__", None)
    closure = getattr(resolve, "__closure__", None) or ()
    if code is None or "field_exception_handlers" not in code.co_freevars:
        return None
    return closure[code.co_freevars.index("field_exception_handlers")].cell_contents


class FieldPlan:
    """One response key of a selection set: what to call and how to complete it."""

    __slots__ = (
        "attribute",
        "basic",
        "complete",
        "definition",
        "guard",
        "has_args",
        "key",
        "name",
        "node",
        "nodes",
        "non_null",
        "null_message",
        "parent_type",
        "plain_leaf",
        "read",
        "resolve",
        "typename",
        "verbatim_str",
    )

    def __init__(
        self, planner: Planner, parent_type: GraphQLObjectType, key: str, nodes: list[FieldNode]
    ) -> None:
        planner.spend()
        self.parent_type = parent_type
        self.key = key
        self.nodes = nodes
        self.node = nodes[0]
        self.name = name = self.node.name.value
        self.typename = name == TYPENAME
        self.plain_leaf = self.verbatim_str = False
        self.null_message = f"Cannot return null for non-nullable field {parent_type.name}.{name}."
        if self.typename:
            self.non_null = True
            return
        definition = parent_type.fields.get(name)
        if definition is None:  # `__schema`, `__type`: introspection stays with graphql-core
            raise NotCompilable(name)
        self.definition: GraphQLField = definition
        self.resolve = definition.resolve
        if self.resolve is None:
            raise NotCompilable(f"{parent_type.name}.{name} has no resolver")
        self.basic = getattr(self.resolve, "__name__", "") == _BASIC_RESOLVER_NAME
        if self.basic:
            # What Strawberry's basic resolver does (`StrawberryField.get_result` of a field
            # without resolver), without its two calls: read the attribute.
            strawberry_field = definition.extensions["strawberry-definition"]
            self.read = strawberry_field.default_resolver
            self.attribute = strawberry_field.python_name
        self.has_args = bool(definition.args or self.node.arguments)
        self.guard = Guard.of(planner.schema, parent_type, definition) if not self.has_args else None
        self.non_null = isinstance(definition.type, GraphQLNonNull)
        named = get_named_type(definition.type)
        sub_plans: dict[str, SelectionPlan] = {}
        if not is_leaf_type(named):
            selection_sets = [n.selection_set for n in nodes if n.selection_set is not None]
            # An abstract type gets one plan per possible object type, as graphql-core
            # collects the sub-fields again for each runtime type.
            possible = planner.schema.get_possible_types(named) if is_abstract_type(named) else [named]
            for object_type in possible:
                sub_plans[object_type.name] = compile_selection(planner, object_type, selection_sets)
        self.complete: Complete = _completer(definition.type, named, sub_plans)
        # A scalar or enum read off its parent: no `info`, and a path only for an error.
        nullable_type = definition.type.of_type if self.non_null else definition.type  # type: ignore[attr-defined]
        self.plain_leaf = self.basic and is_leaf_type(nullable_type)
        # String and ID answer a `str` with itself: such a value needs no completion call.
        self.verbatim_str = is_leaf_type(nullable_type) and _answers_str_as_is(nullable_type)

    def call(self, execution: Execution, source: Any, path: Path) -> Any:
        """The resolver's raw result (or awaitable), called as graphql-core calls it."""
        if self.basic:
            return self.read(source, self.attribute)
        if self.guard is not None:
            return self.guard.resolve(source, _LazyInfo(execution, self, path))
        info = execution.info(self, path)
        args = (
            get_argument_values(self.definition, self.node, execution.variable_values)
            if self.has_args
            else {}
        )
        return self.resolve(source, info, **args)


class SelectionPlan(NamedTuple):
    """The grouped fields of one selection set on one object type."""

    parent_type: GraphQLObjectType
    fields: tuple[FieldPlan, ...]


class Planner:
    """What planning one operation needs: the schema, the document's fragments, and a
    budget of field plans (an abstract type multiplies its sub-plans by its possible
    types; past the budget, graphql-core runs the operation)."""

    __slots__ = ("budget", "fragments", "schema")

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        budget: int | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.budget = PLAN_BUDGET if budget is None else budget

    def spend(self) -> None:
        """Count one field plan; refuse the operation past the budget."""
        self.budget -= 1
        if self.budget < 0:
            raise NotCompilable("too many field plans")

    def applies(self, condition: NamedTypeNode | None, object_type: GraphQLObjectType) -> bool:
        """graphql-core's `does_fragment_condition_match`: whether a fragment with this
        type condition applies to an object of `object_type`."""
        if condition is None:
            return True
        conditional = self.schema.get_type(condition.name.value)
        if conditional is object_type:
            return True
        return is_abstract_type(conditional) and self.schema.is_sub_type(conditional, object_type)  # type: ignore[arg-type]


def _collect(
    planner: Planner,
    parent_type: GraphQLObjectType,
    selection_set: SelectionSetNode,
    grouped: dict[str, list[FieldNode]],
    visited: set[str],
) -> None:
    for selection in selection_set.selections:
        if selection.directives:
            raise NotCompilable("directives on selections")
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            grouped.setdefault(key, []).append(selection)
            continue
        if isinstance(selection, InlineFragmentNode):
            if planner.applies(selection.type_condition, parent_type):
                _collect(planner, parent_type, selection.selection_set, grouped, visited)
            continue
        if isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = planner.fragments.get(name)
            if fragment is None or fragment.variable_definitions or getattr(selection, "arguments", None):
                raise NotCompilable("fragment arguments or unknown fragment")
            if name in visited or not planner.applies(fragment.type_condition, parent_type):
                continue
            visited.add(name)
            _collect(planner, parent_type, fragment.selection_set, grouped, visited)
            continue
        raise NotCompilable(type(selection).__name__)  # pragma: no cover


def compile_selection(
    planner: Planner, parent_type: GraphQLObjectType, selection_sets: Sequence[SelectionSetNode]
) -> SelectionPlan:
    """The plan of `selection_sets` (merged, as for one field asked twice) on `parent_type`."""
    grouped: dict[str, list[FieldNode]] = {}
    visited: set[str] = set()
    for selection_set in selection_sets:
        _collect(planner, parent_type, selection_set, grouped, visited)
    fields = tuple(FieldPlan(planner, parent_type, key, nodes) for key, nodes in grouped.items())
    return SelectionPlan(parent_type, fields)


def _completer(
    return_type: GraphQLOutputType, named: Any, sub_plans: Mapping[str, SelectionPlan]
) -> Complete:
    """How a resolved value of `return_type` becomes response data (graphql-core's
    `complete_value`, decided once instead of per value); `sub_plans` holds the plan of
    each object type the value may be."""
    if isinstance(return_type, GraphQLNonNull):
        if is_leaf_type(return_type.of_type):
            return _non_null_leaf_completer(return_type.of_type)
        if isinstance(return_type.of_type, GraphQLObjectType) and return_type.of_type.is_type_of is None:
            return _non_null_object_completer(sub_plans[return_type.of_type.name])
        return _non_null_completer(_completer(return_type.of_type, named, sub_plans))
    if isinstance(return_type, GraphQLList):
        return _list_completer(return_type.of_type, _completer(return_type.of_type, named, sub_plans))
    if is_leaf_type(return_type):
        return _leaf_completer(return_type)
    if isinstance(return_type, GraphQLObjectType):
        return _object_completer(return_type, sub_plans[return_type.name])
    objects = {name: _object_completer(plan.parent_type, plan) for name, plan in sub_plans.items()}
    return _abstract_completer(return_type, objects)  # type: ignore[arg-type]


def _abstract_completer(abstract_type: GraphQLAbstractType, objects: Mapping[str, Complete]) -> Complete:
    """graphql-core's `complete_abstract_value`: the type resolver names the runtime
    object type (the default one reads `__typename`, then asks each possible type's
    `is_type_of`), which must be one of the abstract type's; then that type's plan."""
    resolve_type = abstract_type.resolve_type or default_type_resolver

    def runtime(execution: Execution, field: FieldPlan, result: Any, name: Any) -> Complete:
        if name is None:
            raise GraphQLError(
                f"Abstract type '{abstract_type}' must resolve to an Object type at runtime"
                f" for field '{field.parent_type}.{field.name}'. Either the '{abstract_type}'"
                " type should provide a 'resolve_type' function or each possible type should"
                " provide an 'is_type_of' function.",
                field.nodes,
            )
        if not isinstance(name, str):
            raise GraphQLError(
                f"Abstract type '{abstract_type}' must resolve to an Object type at runtime"
                f" for field '{field.parent_type}.{field.name}' with value {inspect(result)},"
                f" received '{inspect(name)}', which is not a valid Object type name.",
                field.nodes,
            )
        complete = objects.get(name)
        if complete is not None:
            return complete
        found = execution.schema.get_type(name)
        if found is None:
            message = (
                f"Abstract type '{abstract_type}' was resolved to a type '{name}'"
                " that does not exist inside the schema."
            )
        elif not is_object_type(found):
            message = f"Abstract type '{abstract_type}' was resolved to a non-object type '{name}'."
        else:
            message = f"Runtime Object type '{found}' is not a possible type for '{abstract_type}'."
        raise GraphQLError(message, field.nodes)

    async def resolved_later(
        execution: Execution, field: FieldPlan, path: Path, result: Any, name: Any
    ) -> Any:
        complete = runtime(execution, field, result, await name)
        value = complete(execution, field, path, result)
        return await value if is_awaitable(value) else value

    def complete_abstract(execution: Execution, field: FieldPlan, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        name = resolve_type(result, execution.info(field, _field_path(path)), abstract_type)
        if is_awaitable(name):
            return resolved_later(execution, field, path, result, name)
        return runtime(execution, field, result, name)(execution, field, path, result)

    return complete_abstract


def _non_null_completer(inner: Complete) -> Complete:
    def complete_non_null(execution: Execution, field: FieldPlan, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        completed = inner(execution, field, path, result)
        # An awaitable here is a sub-selection or a list, which never completes to null.
        if completed is None:
            raise TypeError(field.null_message)
        return completed

    return complete_non_null


def _answers_str_as_is(leaf_type: Any) -> bool:
    """Whether the leaf type completes any `str` to itself (graphql-core's String and ID,
    or a scalar that serialises as they do)."""
    return getattr(leaf_type, "coerce_output_value", None) in (serialize_string, serialize_id)


def _non_null_leaf_completer(leaf_type: Any) -> Complete:
    """`_non_null_completer(_leaf_completer(leaf_type))` with one call fewer (most fields):
    a leaf completes to null only from a null."""
    complete_leaf = _leaf_completer(leaf_type)

    def complete_non_null_leaf(execution: Execution, field: FieldPlan, path: Path, result: Any) -> Any:
        if result is None or result is Undefined:
            raise TypeError(field.null_message)
        return complete_leaf(execution, field, path, result)

    return complete_non_null_leaf


def _leaf_completer(leaf_type: Any) -> Complete:
    coerce = leaf_type.coerce_output_value

    def complete_leaf(execution: Execution, field: FieldPlan, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        coerced = coerce(result)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(leaf_type)}.coerce_output_value({inspect(result)})`"
                f" to return non-nullable value, returned: {inspect(coerced)}"
            )
        return coerced

    return complete_leaf


def _non_null_object_completer(plan: SelectionPlan) -> Complete:
    """`_non_null_completer(_object_completer(...))` in one call, for an object type
    without `is_type_of` (every edge and node of a page)."""

    def complete_non_null_object(execution: Execution, field: FieldPlan, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            raise TypeError(field.null_message)
        return execution.execute_selection(plan, result, path)

    return complete_non_null_object


def _object_completer(object_type: GraphQLObjectType, plan: SelectionPlan) -> Complete:
    is_type_of = object_type.is_type_of

    async def checked(execution: Execution, field: FieldPlan, path: Path, result: Any) -> Any:
        assert is_type_of is not None
        verdict: Any = is_type_of(result, execution.info(field, _field_path(path)))
        if is_awaitable(verdict):
            verdict = await verdict
        if not verdict:
            raise GraphQLError(
                f"Expected value of type '{object_type}' but got: {inspect(result)}.", field.nodes
            )
        data = execution.execute_selection(plan, result, path)
        return data if isinstance(data, dict) else await data

    def complete_object(execution: Execution, field: FieldPlan, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        if is_type_of is not None:
            return checked(execution, field, path, result)
        return execution.execute_selection(plan, result, path)

    return complete_object


def _field_path(path: Path) -> Path:
    """The path of the field a (list item's) value belongs to: graphql-core hands type
    resolvers and `is_type_of` the field's own `info`, whose path has no list index."""
    while isinstance(path.key, int) and path.prev is not None:
        path = path.prev
    return path


def _list_completer(item_type: GraphQLOutputType, complete_item: Complete) -> Complete:
    item_non_null = isinstance(item_type, GraphQLNonNull)
    item_leaf: Any = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
    # A list of `str` (`roles`) completes to a copy of itself when the items are String or ID.
    strings_as_is = is_leaf_type(item_leaf) and _answers_str_as_is(item_leaf)

    async def settle(
        execution: Execution, field: FieldPlan, completed: list[Any], pending: list[tuple[int, Path]]
    ) -> list[Any]:
        position = 0
        try:
            for position in range(len(pending)):
                index, item_path = pending[position]
                try:
                    value = completed[index]
                    completed[index] = None  # settled, whatever happens next
                    if isinstance(value, _Unresolved):
                        value = await value.awaitable
                        value = complete_item(execution, field, item_path, value)
                    completed[index] = await value if is_awaitable(value) else value
                except Exception as error:  # noqa: BLE001 - any resolver error is a field error
                    completed[index] = execution.field_error(error, field, item_path, item_non_null)
        except BaseException:
            _close_unsettled(completed, pending[position + 1 :])
            raise
        return completed

    def complete_list(execution: Execution, field: FieldPlan, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        if strings_as_is and type(result) is list and all(type(item) is str for item in result):
            return [*result]
        if not is_iterable(result):
            raise GraphQLError(
                "Expected Iterable, but did not find one for field"
                f" '{field.parent_type.name}.{field.node.name.value}'."
            )
        completed: list[Any] = []
        pending: list[tuple[int, Path]] = []
        try:
            for index, item in enumerate(result):
                item_path = path.add_key(index, None)
                if is_awaitable(item):
                    completed.append(_Unresolved(item))
                    pending.append((index, item_path))
                    continue
                try:
                    value = complete_item(execution, field, item_path, item)
                except Exception as error:  # noqa: BLE001 - any resolver error is a field error
                    value = execution.field_error(error, field, item_path, item_non_null)
                if is_awaitable(value):
                    pending.append((index, item_path))
                completed.append(value)
        except BaseException:
            _close_unsettled(completed, pending)
            raise
        if not pending:
            return completed
        return _Settling(settle(execution, field, completed, pending), completed, pending)

    return complete_list


class _Held:
    """Work of a response still to run, as an awaitable: awaited, it runs `coroutine`;
    closed unawaited (an error elsewhere made it pointless), it also closes what it holds,
    which closing the bare coroutine would not (it never started, so it holds them unclosed)."""

    __slots__ = ("coroutine",)

    def __init__(self, coroutine: Any) -> None:
        self.coroutine = coroutine

    def __await__(self) -> Any:
        return self.coroutine.__await__()

    def close(self) -> None:
        """Close the coroutine and what it holds."""
        self.coroutine.close()
        self.close_held()

    def close_held(self) -> None:
        raise NotImplementedError


class _Settling(_Held):
    """A list whose items are still being completed."""

    __slots__ = ("completed", "pending")

    def __init__(self, coroutine: Any, completed: list[Any], pending: list[tuple[int, Path]]) -> None:
        super().__init__(coroutine)
        self.completed = completed
        self.pending = pending

    def close_held(self) -> None:
        _close_unsettled(self.completed, self.pending)


def _close_unsettled(completed: list[Any], pending: Iterable[tuple[int, Path]]) -> None:
    """Close the sub-selections an error made pointless, so none is left never awaited."""
    for index, _ in pending:
        value = completed[index]
        value = value.awaitable if isinstance(value, _Unresolved) else value
        if hasattr(value, "close"):
            value.close()


class _Finishing(_Held):
    """The rest of an object's selection, from a field whose value is `held` (an awaitable)."""

    __slots__ = ("held",)

    def __init__(self, coroutine: Any, held: Any) -> None:
        super().__init__(coroutine)
        self.held = held

    def close_held(self) -> None:
        if hasattr(self.held, "close"):
            self.held.close()


class _Unresolved(NamedTuple):
    """A list item that was itself an awaitable, to be awaited then completed."""

    awaitable: Any


class Execution:
    """The state of one request's run of a compiled query.

    It also carries the attributes Strawberry's `build_resolve_info` reads, so `info`
    is built by Strawberry's own code.
    """

    __slots__ = (
        "abort_signal",
        "async_helpers",
        "context_value",
        "errors",
        "fragment_definitions",
        "is_awaitable",
        "operation",
        "operation_extensions",
        "root_value",
        "schema",
        "tracked",
        "variable_values",
    )

    def __init__(self, query: CompiledQuery, context: Any, variable_values: VariableValues) -> None:
        self.schema = query.schema
        self.fragment_definitions = query.fragments
        self.operation = query.operation
        self.root_value = None
        self.context_value = context
        self.variable_values = variable_values
        self.is_awaitable = is_awaitable
        self.abort_signal = None
        self.operation_extensions = None
        self.tracked: list[Any] = []
        self.async_helpers = GraphQLResolveInfoHelpers(gather=_gather, track=self._track)
        self.errors: list[GraphQLError] = []

    def _track(self, values: Sequence[Any]) -> None:
        self.tracked.extend(value for value in values if is_awaitable(value))

    def info(self, field: FieldPlan, path: Path) -> Any:
        """The resolve info graphql-core would pass, built by Strawberry's own method."""
        return _build_info(self, field.definition, field.nodes, field.parent_type, path)  # type: ignore[arg-type]

    def field_error(self, raw_error: Exception, field: FieldPlan, path: Path, non_null: bool) -> Any:
        """Locate the error; null the position (the `None` returned), or raise to the
        parent when the position is non-null."""
        error = located_error(raw_error, field.nodes, path.as_list())
        if non_null:
            raise error
        self.errors.append(error)
        return None

    def execute_selection(
        self, plan: SelectionPlan, source: Any, path: Path | None
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """The data of one object: each field resolved and completed, in order. Returned
        as is while every field completes at once (most objects: attributes of a row);
        from the first field that returns an awaitable, a coroutine that awaits it and
        goes on with the rest, as a coroutine of the whole object would have."""
        data: dict[str, Any] = {}
        type_name = plan.parent_type.name
        for position, field in enumerate(plan.fields):
            if field.typename:
                data[field.key] = type_name
                continue
            if field.plain_leaf:
                try:
                    result = field.read(source, field.attribute)
                    if type(result) is str and field.verbatim_str:
                        data[field.key] = result
                        continue
                    if type(result) not in _LEAF_VALUES and is_awaitable(result):
                        return _Finishing(
                            self._finish_selection(plan, source, path, data, position, result, None), result
                        )
                    data[field.key] = field.complete(self, field, path, result)  # leaves ignore the path
                except Exception as error:  # noqa: BLE001 - any resolver error is a field error
                    field_path = Path(path, field.key, type_name)
                    data[field.key] = self.field_error(error, field, field_path, field.non_null)
                continue
            field_path = Path(path, field.key, type_name)
            try:
                result = (
                    field.read(source, field.attribute)
                    if field.basic
                    else field.call(self, source, field_path)
                )
                if type(result) is str and field.verbatim_str:
                    data[field.key] = result
                    continue
                if is_awaitable(result):
                    return _Finishing(
                        self._finish_selection(plan, source, path, data, position, result, None), result
                    )
                value = field.complete(self, field, field_path, result)
                if is_awaitable(value):
                    return _Finishing(
                        self._finish_selection(plan, source, path, data, position, None, value), value
                    )
            except Exception as error:  # noqa: BLE001 - any resolver error is a field error
                value = self.field_error(error, field, field_path, field.non_null)
            data[field.key] = value
        return data

    async def _finish_selection(
        self,
        plan: SelectionPlan,
        source: Any,
        path: Path | None,
        data: dict[str, Any],
        position: int,
        resolving: Any,
        completing: Any,
    ) -> dict[str, Any]:
        """The rest of `execute_selection` from the field at `position`, whose resolver
        returned the awaitable `resolving` or whose completion is the awaitable `completing`."""
        type_name = plan.parent_type.name
        fields = plan.fields
        for field in fields[position:]:
            if field.typename:
                data[field.key] = type_name
                continue
            field_path = Path(path, field.key, type_name)
            try:
                if resolving is None and completing is None:
                    resolving = (
                        field.read(source, field.attribute)
                        if field.plain_leaf
                        else field.call(self, source, field_path)
                    )
                if completing is None:
                    result = await resolving if is_awaitable(resolving) else resolving
                    completing = field.complete(self, field, field_path, result)
                value = await completing if is_awaitable(completing) else completing
            except Exception as error:  # noqa: BLE001 - any resolver error is a field error
                value = self.field_error(error, field, field_path, field.non_null)
            resolving = completing = None
            data[field.key] = value
        return data


async def _gather(values: Sequence[Any]) -> list[Any]:
    return list(await asyncio.gather(*values))


class CompiledQuery:
    """A query operation with its plan, ready to run once per request."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        root: SelectionPlan,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.root = root

    async def execute(
        self, context: Any, variable_values: VariableValues
    ) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        """`(data, errors)` as graphql-core's `execute` would give them, for variables
        already coerced (`graphql.execution.values.get_variable_values`)."""
        execution = Execution(self, context, variable_values)
        data: dict[str, Any] | None
        try:
            selected = execution.execute_selection(self.root, None, None)
            data = selected if isinstance(selected, dict) else await selected
        except GraphQLError as error:  # a null that reached the root
            execution.errors.append(error)
            data = None
        if execution.tracked:
            await asyncio.gather(*execution.tracked, return_exceptions=True)
        return data, execution.errors


def compile_query(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> CompiledQuery | None:
    """The compiled plan of one operation of a validated document, or `None` for graphql-core."""
    if operation.operation is not OperationType.QUERY or operation.directives:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if any(f.variable_definitions for f in fragments.values()):
        return None
    root_type = schema.query_type
    if root_type is None:
        return None
    try:
        root = compile_selection(Planner(schema, fragments), root_type, [operation.selection_set])
    except (NotCompilable, RecursionError):
        return None
    except Exception:  # a shape this module mishandles must still get graphql-core's answer
        logger.exception("could not compile a query; graphql-core runs it")
        return None
    return CompiledQuery(schema, operation, fragments, root)


def compile_operations(schema: GraphQLSchema, document: DocumentNode) -> dict[str | None, CompiledQuery]:
    """The compilable operations of a validated document, by the `operationName` that
    selects each (`None` too when the document holds just one operation)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    plans: dict[str | None, CompiledQuery] = {}
    for operation in operations:
        compiled = compile_query(schema, document, operation)
        if compiled is None:
            continue
        if operation.name is not None:
            plans[operation.name.value] = compiled
        if len(operations) == 1:
            plans[None] = compiled
    return plans
