"""The schema a credential could use (contract section 7): `?viewer=me` and `viewer.can`.

A field is usable by a caller when every permission on it could allow them:
`permission.could_allow(identity)`, judged without any object (an object-level check
such as `IsOwnerOrHasRole` could allow any signed-in user, for their own objects). A
permission without `could_allow` (a module's own class that predates it) never could:
the field is hidden rather than shown to someone it may refuse. A field without
permissions is usable wherever its type is reachable; on the root types those are the
fields declared public, since start-up refuses any other root field without one.

The caller's schema is the printed SDL (with its directives) reduced in four steps,
repeated until nothing changes, so that what is left is a valid schema:

1. the fields the caller could not use are removed;
2. a field whose type has no field left (an object or interface type emptied, a union
   whose members are all empty) is removed too, since nothing could be selected in it;
3. an interface keeps a field only if every type implementing it keeps it, and an
   emptied interface is dropped from the types implementing it;
4. types no longer reachable from the root types are dropped (the implementations of a
   reachable interface count as reachable: a query may receive them; so do the argument
   types of the directives still applied), and so are directive definitions no kept
   definition applies.

It is printed as Strawberry prints the full schema (`print_sdl`), so a caller who may use
every field gets the full SDL byte for byte.

`Mutation` and `Subscription` left empty are dropped. `Query` cannot be: an anonymous
caller's `Query` holds the public root fields (`me`, `viewer` in Gatehouse's own
schema, plus any a module declares public). A schema whose anonymous `Query` would be
empty is refused when its `ViewerSchemas` is made (`EmptyQuery`): at start-up, by the
schema endpoint.

`viewer.can(field:)` answers with the same reduction: `True` exactly when the caller's
schema lists the field, so a UI that hides buttons agrees with the docs GraphiQL shows.
It needs only the fields kept (steps 1 to 4 on names, a fraction of a millisecond), not
the printed SDL (milliseconds), so a caller cycling through many scope subsets costs the
event loop little; a `?viewer=me` whose reduction is not kept yet is printed in a worker
thread (`ViewerSchemas.view_async`), one at a time for the whole process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, cast

from graphql import (
    DefinitionNode,
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    FieldDefinitionNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    OperationType,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    parse,
    print_ast,
)
from strawberry.permission import PermissionExtension
from strawberry.schema.base import BaseSchema

from auth.identity import ANONYMOUS, Identity
from core.errors import BadUserInput

ROOT_NAMES = {
    OperationType.QUERY: "Query",
    OperationType.MUTATION: "Mutation",
    OperationType.SUBSCRIPTION: "Subscription",
}
# Matched whole (`fullmatch`): `$` would also accept a trailing newline.
COORDINATE = re.compile(r"([_A-Za-z][_0-9A-Za-z]*)\.([_A-Za-z][_0-9A-Za-z]*)")
FIELD_ARGUMENT = "field"
VIEWS_KEPT = 256
"""How many printed reductions (`?viewer=me`) are kept, least recently used dropped: one
per distinct set of hidden fields, in practice one per combination of roles and scopes
in use (an SDL of a few kilobytes each)."""
FIELD_SETS_KEPT = 4096
"""How many sets of kept fields (`viewer.can`) are kept: small, and cheap to make again."""
# Prints the reductions not kept yet for `view_async`: one thread for the process, so
# a burst of new scope subsets queues here instead of crowding the event loop.
_PRINTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="viewer-schema")

FieldTypes = ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode


class EmptyQuery(ValueError):
    """The reduction left `Query` without a field: the schema would not be valid."""


@dataclasses.dataclass(frozen=True)
class Reduction:
    """A reduced schema: its SDL and the coordinates (`Type.field`) of the fields it kept."""

    sdl: str
    fields: frozenset[str]


# --- The pure reduction, on the printed SDL's syntax tree ------------------------------


def _named(type_node: TypeNode) -> str:
    while isinstance(type_node, NonNullTypeNode | ListTypeNode):
        type_node = type_node.type
    return cast(NamedTypeNode, type_node).name.value


def _root_names(document: DocumentNode) -> dict[OperationType, str]:
    for definition in document.definitions:
        if isinstance(definition, SchemaDefinitionNode):
            return {
                operation.operation: operation.type.name.value for operation in definition.operation_types
            }
    names = {node.name.value for node in document.definitions if isinstance(node, TypeDefinitionNode)}
    return {operation: name for operation, name in ROOT_NAMES.items() if name in names}


class _Reducer:
    """One reduction of one document (see the module's docstring for the steps)."""

    def __init__(self, document: DocumentNode, hidden: Collection[str]) -> None:
        self.document = document
        self.types: dict[str, TypeDefinitionNode] = {
            node.name.value: node for node in document.definitions if isinstance(node, TypeDefinitionNode)
        }
        self.fields: dict[str, list[FieldDefinitionNode]] = {
            name: [field for field in node.fields or () if f"{name}.{field.name.value}" not in hidden]
            for name, node in self.types.items()
            if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode)
        }
        self.members: dict[str, list[str]] = {
            name: [member.name.value for member in node.types or ()]
            for name, node in self.types.items()
            if isinstance(node, UnionTypeDefinitionNode)
        }
        self.interfaces: dict[str, list[str]] = {
            name: [interface.name.value for interface in cast(FieldTypes, self.types[name]).interfaces or ()]
            for name in self.fields
        }

    def _empty(self, name: str) -> bool:
        """Whether nothing could be selected in type `name` any more."""
        if name in self.fields:
            return not self.fields[name]
        if name in self.members:
            return not self.members[name]
        return False

    def _settle(self) -> None:
        """Steps 2 and 3, until nothing changes."""
        changed = True
        while changed:
            changed = False
            for union, members in self.members.items():
                kept = [member for member in members if not self._empty(member)]
                if len(kept) != len(members):
                    self.members[union], changed = kept, True
            for name, fields in self.fields.items():
                kept_fields = [field for field in fields if not self._empty(_named(field.type))]
                interfaces = [interface for interface in self.interfaces[name] if not self._empty(interface)]
                if len(kept_fields) != len(fields) or len(interfaces) != len(self.interfaces[name]):
                    self.fields[name], self.interfaces[name], changed = kept_fields, interfaces, True
            for interface in self.fields:
                # An emptied implementer is dropped everywhere: it constrains nothing.
                implementers = [
                    name
                    for name, listed in self.interfaces.items()
                    if interface in listed and not self._empty(name)
                ]
                if not implementers:
                    continue
                kept_names = {field.name.value for field in self.fields[interface]}
                for implementer in implementers:
                    kept_names &= {field.name.value for field in self.fields[implementer]}
                if len(kept_names) != len(self.fields[interface]):
                    self.fields[interface] = [f for f in self.fields[interface] if f.name.value in kept_names]
                    changed = True

    def _reachable(self, roots: Iterable[str]) -> set[str]:
        """Step 4: the type names reachable from `roots`."""
        seen: set[str] = set()
        pending = [name for name in roots if name in self.types]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            pending.extend(other for other in self._references(name) if other in self.types)
        return seen

    def _references(self, name: str) -> Iterator[str]:
        node = self.types[name]
        if name in self.fields:
            for field in self.fields[name]:
                yield _named(field.type)
                yield from (_named(argument.type) for argument in field.arguments or ())
            yield from self.interfaces[name]
            if isinstance(node, InterfaceTypeDefinitionNode):
                yield from (
                    other
                    for other, listed in self.interfaces.items()
                    if name in listed and not self._empty(other)
                )
        elif name in self.members:
            yield from self.members[name]
        elif isinstance(node, InputObjectTypeDefinitionNode):
            yield from (_named(field.type) for field in node.fields or ())

    def _kept_roots(self) -> tuple[dict[OperationType, str], set[str]]:
        """Steps 1 to 3, then the root types left and the types they reach."""
        self._settle()
        roots = {
            operation: name for operation, name in _root_names(self.document).items() if not self._empty(name)
        }
        if OperationType.QUERY not in roots:
            raise EmptyQuery("The reduced schema's Query type has no field left.")
        return roots, self._reachable(roots.values())

    def _kept(self, reachable: set[str]) -> frozenset[str]:
        return frozenset(
            f"{name}.{field.name.value}"
            for name in reachable
            if name in self.fields
            for field in self.fields[name]
        )

    def kept_fields(self) -> frozenset[str]:
        """The coordinates `reduce` keeps, without rebuilding or printing anything: the
        types a directive's arguments add are input types, which hold no fields."""
        return self._kept(self._kept_roots()[1])

    def reduce(self) -> tuple[DocumentNode, frozenset[str]]:
        roots, reachable = self._kept_roots()
        while True:
            definitions = [
                node
                for node in (self._rebuilt(node, reachable, roots) for node in self.document.definitions)
                if node
            ]
            used = _directives_used(definitions)
            definitions = [
                node
                for node in definitions
                if not isinstance(node, DirectiveDefinitionNode) or node.name.value in used
            ]
            # A kept directive's arguments may name types nothing else reaches (an enum).
            argument_types = [
                _named(argument.type)
                for node in definitions
                if isinstance(node, DirectiveDefinitionNode)
                for argument in node.arguments or ()
            ]
            grown = self._reachable([*reachable, *argument_types])
            if grown == reachable:
                break
            reachable = grown
        return DocumentNode(definitions=tuple(definitions)), self._kept(reachable)

    def _rebuilt(
        self, node: DefinitionNode, reachable: set[str], roots: dict[OperationType, str]
    ) -> DefinitionNode | None:
        if isinstance(node, SchemaDefinitionNode):
            operations = tuple(
                operation for operation in node.operation_types if operation.operation in roots
            )
            return dataclasses.replace(node, operation_types=operations)
        if isinstance(node, DirectiveDefinitionNode):
            return node
        if not isinstance(node, TypeDefinitionNode) or node.name.value not in reachable:
            return None  # an unreachable type; extensions are never printed by Strawberry
        name = node.name.value
        if name in self.fields:
            kept = {field.name.value for field in self.fields[name]}
            interfaces = set(self.interfaces[name])
            return dataclasses.replace(
                cast(FieldTypes, node),
                fields=tuple(
                    field for field in cast(FieldTypes, node).fields or () if field.name.value in kept
                ),
                interfaces=tuple(
                    i for i in cast(FieldTypes, node).interfaces or () if i.name.value in interfaces
                ),
            )
        if name in self.members:
            members = set(self.members[name])
            union = cast(UnionTypeDefinitionNode, node)
            return dataclasses.replace(
                union, types=tuple(m for m in union.types or () if m.name.value in members)
            )
        return node


def _directives_used(definitions: Sequence[DefinitionNode]) -> set[str]:
    """The names of the directives applied anywhere in `definitions`."""
    used: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, DirectiveNode):
            used.add(value.name.value)
        if isinstance(value, tuple | list):
            for item in value:
                visit(item)
        elif hasattr(value, "keys") and not isinstance(value, DirectiveDefinitionNode | dict):
            for key in value.keys:
                if key != "loc":
                    visit(getattr(value, key))

    for definition in definitions:
        if not isinstance(definition, DirectiveDefinitionNode):
            visit(definition)
    return used


def reduce_document(document: DocumentNode, hidden: Collection[str]) -> tuple[DocumentNode, frozenset[str]]:
    """`document` (a printed schema) without the fields in `hidden` (`Type.field`), and
    without what that leaves unusable or unreachable; with the coordinates it kept.

    Raises `EmptyQuery` when `Query` is left without a field."""
    return _Reducer(document, hidden).reduce()


def print_sdl(document: DocumentNode) -> str:
    """`document` printed as Strawberry prints a schema: graphql-core's `print_ast`, plus
    the blank line `print_schema` puts before each description inside a type (but the
    first), so a caller who may use everything gets the full SDL byte for byte."""
    lines: list[str] = []
    in_block_string = False
    for line in print_ast(document).split("\n"):
        stripped = line.lstrip()
        if in_block_string:
            in_block_string = not stripped.startswith('"""')
        elif stripped.startswith('"'):
            previous = lines[-1].rstrip() if lines else ""
            if line.startswith(" ") and previous and not previous.endswith(("{", "(")):
                lines.append("")
            one_line = len(stripped) >= 6 and stripped.endswith('"""')
            in_block_string = stripped.startswith('"""') and not one_line
        lines.append(line)
    return "\n".join(lines)


def reduce_sdl(sdl: str, hidden: Collection[str]) -> Reduction:
    """`reduce_document` on SDL text; the answer is printed SDL (`print_sdl`)."""
    document, kept = reduce_document(parse(sdl), hidden)
    return Reduction(sdl=print_sdl(document), fields=kept)


# --- Permissions, read off the built schema --------------------------------------------


def field_permissions(schema: GraphQLSchema) -> dict[str, tuple[object, ...]]:
    """The permissions on every field that has any, by coordinate (`Type.field`)."""
    found: dict[str, tuple[object, ...]] = {}
    for type_name, named_type in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(named_type, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for field_name, field in named_type.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            permissions = tuple(
                permission
                for extension in getattr(definition, "extensions", None) or ()
                if isinstance(extension, PermissionExtension)
                for permission in extension.permissions
            )
            if permissions:
                found[f"{type_name}.{field_name}"] = permissions
    return found


def could_use(permissions: Iterable[object], identity: Identity) -> bool:
    """Whether every one of `permissions` could allow `identity` (one without
    `could_allow` never could: hiding a field is the safe mistake)."""
    for permission in permissions:
        could_allow: Callable[[Identity], bool] | None = getattr(permission, "could_allow", None)
        if could_allow is None or not could_allow(identity):
            return False
    return True


def all_fields(schema: GraphQLSchema) -> frozenset[str]:
    """Every field of an object or interface type, by coordinate (introspection's own types left out)."""
    return frozenset(
        f"{type_name}.{field_name}"
        for type_name, named_type in schema.type_map.items()
        if not type_name.startswith("__") and isinstance(named_type, GraphQLObjectType | GraphQLInterfaceType)
        for field_name in named_type.fields
    )


class ViewerSchemas:
    """The reductions of one served schema, one per distinct set of fields hidden.

    Which fields a caller cannot use is worked out on every call (a few dozen
    `could_allow` calls, no I/O), so nothing about an identity is cached; the
    reduction for that set of fields is kept (`VIEWS_KEPT` printed ones and
    `FIELD_SETS_KEPT` sets of kept fields, least recently used dropped). The key is the
    set of hidden fields rather than (roles, scopes, credential kind): `could_allow` may
    read more than those (`IsVerified` reads the user's verified email), and callers
    whose rights differ only where no field cares share a reduction.
    The anonymous reduction is made at once: a schema whose anonymous `Query` would be
    empty is refused at start-up, not on a request.
    """

    def __init__(self, schema: GraphQLSchema, sdl: str) -> None:
        self._document = parse(sdl)
        self._gates = field_permissions(schema)
        self._fields = all_fields(schema)
        self._object_types = {
            name
            for name, t in schema.type_map.items()
            if not name.startswith("__") and isinstance(t, GraphQLObjectType | GraphQLInterfaceType)
        }
        self._types = {name for name in schema.type_map if not name.startswith("__")}
        self._views: OrderedDict[frozenset[str], Reduction] = OrderedDict()
        self._printing: dict[frozenset[str], Future[Reduction]] = {}
        self._kept_fields = functools.lru_cache(maxsize=FIELD_SETS_KEPT)(self._kept_fields_of)
        self.anonymous = self.view(ANONYMOUS)

    def hidden(self, identity: Identity) -> frozenset[str]:
        """The fields whose permissions could not allow `identity`."""
        return frozenset(
            coordinate
            for coordinate, permissions in self._gates.items()
            if not could_use(permissions, identity)
        )

    def _reduction(self, hidden: frozenset[str]) -> Reduction:
        """The printed reduction (pure: safe in `_PRINTER`'s thread)."""
        document, kept = reduce_document(self._document, hidden)
        return Reduction(sdl=print_sdl(document), fields=kept)

    def _kept_fields_of(self, hidden: frozenset[str]) -> frozenset[str]:
        return _Reducer(self._document, hidden).kept_fields()

    def _kept_view(self, hidden: frozenset[str]) -> Reduction | None:
        found = self._views.get(hidden)
        if found is not None:
            self._views.move_to_end(hidden)
        return found

    def _keep(self, hidden: frozenset[str], reduction: Reduction) -> Reduction:
        self._views[hidden] = reduction
        self._views.move_to_end(hidden)
        while len(self._views) > VIEWS_KEPT:
            self._views.popitem(last=False)
        return reduction

    def view(self, identity: Identity) -> Reduction:
        """The schema `identity` could use (printed here when not kept: for start-up and
        tests; a request uses `view_async`)."""
        hidden = self.hidden(identity)
        return self._kept_view(hidden) or self._keep(hidden, self._reduction(hidden))

    async def view_async(self, identity: Identity) -> Reduction:
        """`view`, with a reduction not kept yet printed off the event loop (one at a time
        for the process; callers waiting for the same one share it)."""
        hidden = self.hidden(identity)
        found = self._kept_view(hidden)
        if found is not None:
            return found
        printing = self._printing.get(hidden)
        if printing is None:
            printing = _PRINTER.submit(self._reduction, hidden)
            self._printing[hidden] = printing
        # Shielded: one caller going away must not cancel what the others wait for.
        reduction = await asyncio.shield(asyncio.wrap_future(printing))
        # Forgotten here, on the loop, once kept: a caller arriving in between finds one or the other.
        if self._printing.get(hidden) is printing:
            del self._printing[hidden]
        return self._kept_view(hidden) or self._keep(hidden, reduction)

    def can(self, identity: Identity, coordinate: str) -> bool:
        """Whether `identity`'s schema lists `coordinate` (`Mutation.grantRole`,
        `User.email`); `BadUserInput` on `field` for a malformed or unknown one."""
        match = COORDINATE.fullmatch(coordinate)
        if match is None:
            raise BadUserInput({FIELD_ARGUMENT: "Name a field as Type.field, e.g. Mutation.grantRole."})
        type_name, _ = match.groups()
        if type_name not in self._types or type_name.startswith("__"):
            raise BadUserInput({FIELD_ARGUMENT: f"The schema has no type {type_name}."})
        if type_name not in self._object_types:
            raise BadUserInput({FIELD_ARGUMENT: f"{type_name} is not an object or interface type."})
        if coordinate not in self._fields:
            raise BadUserInput({FIELD_ARGUMENT: f"{type_name} has no field {match.group(2)}."})
        return coordinate in self._kept_fields(self.hidden(identity))


_KEPT_AS = "_gatehouse_viewer_schemas"


def viewer_schemas(schema: BaseSchema) -> ViewerSchemas:
    """The `ViewerSchemas` of a Strawberry schema, made once (at start-up, by the app's
    schema endpoint; else on first use by `viewer.can`) and kept on the schema itself, so
    every engine and every request of that app share it."""
    found: ViewerSchemas | None = getattr(schema, _KEPT_AS, None)
    if found is None:
        graphql_schema: GraphQLSchema = schema._schema  # type: ignore[attr-defined]
        found = ViewerSchemas(graphql_schema, schema.as_str())
        setattr(schema, _KEPT_AS, found)
    return found
