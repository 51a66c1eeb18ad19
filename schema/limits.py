"""Validation rules that bound what one GraphQL operation may do.

`OneCredentialFieldPerOperation`: an operation holds at most one of `login`, `register`,
`changePassword`, `refreshToken`, `reauthenticate`, `requestEmailChange` and
`deleteAccount`, counted over the root selection set with aliases, inline fragments and
fragment spreads followed. Otherwise one HTTP request could carry many password guesses
(aliases) past per-request defences. The document is refused during validation, before
anything executes, with `BAD_USER_INPUT` (the client sent a document the server does not
accept; no permission is involved).

The same rule keeps a field that hands out a credential (`login`, `register`,
`refreshToken`, `createApiToken`) alone in its operation (`__typename` aside): every root
mutation field is non-null, so an error in any later field would null `data` after the
credential was committed, and the client would never see it (a spent refresh token, whose
retry then counts as reuse and ends the family).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

# `reauthenticate`, `requestEmailChange` and `deleteAccount` check a password like `login`:
# aliases must not multiply the guesses.
CREDENTIAL_FIELDS = frozenset(
    {
        "login",
        "register",
        "changePassword",
        "refreshToken",
        "reauthenticate",
        "requestEmailChange",
        "deleteAccount",
        # A token guessed or replayed is a sign-in attempt like a password.
        "loginWithIdToken",
    }
)
MAX_CREDENTIAL_FIELDS = 1
# Fields whose answer carries a secret just committed; each must be alone in its operation.
ISSUING_FIELDS = frozenset({"login", "register", "refreshToken", "createApiToken", "loginWithIdToken"})


def count_root_fields(
    selection_set: SelectionSetNode | None,
    names: frozenset[str],
    fragments: Mapping[str, FragmentDefinitionNode],
    visited: frozenset[str] = frozenset(),
) -> int:
    """How many root fields named in `names` the selection set selects, fragments included.

    A fragment already on the path is not followed again (cycles are reported by
    graphql-core's own `NoFragmentCycles` rule); `@skip`/`@include` are ignored, so
    the count is an upper bound.
    """
    if selection_set is None:
        return 0
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += selection.name.value in names
        elif isinstance(selection, InlineFragmentNode):
            count += count_root_fields(selection.selection_set, names, fragments, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visited:
                count += count_root_fields(fragment.selection_set, names, fragments, visited | {name})
    return count


def root_field_names(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    visited: frozenset[str] = frozenset(),
) -> Iterator[str]:
    """The names of the root fields a selection set selects, fragments followed, once per
    selection (aliases and repeated spreads each count; cycles are not followed)."""
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from root_field_names(selection.selection_set, fragments, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visited:
                yield from root_field_names(fragment.selection_set, fragments, visited | {name})


class OneCredentialFieldPerOperation(ValidationRule):
    """Refuses an operation holding more than one credential-handling root field, or a
    credential-issuing field beside any other."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.fragments = {
            definition.name.value: definition
            for definition in context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
        """Count the operation's credential fields; report when over the limit."""
        found = count_root_fields(node.selection_set, CREDENTIAL_FIELDS, self.fragments)
        if found > MAX_CREDENTIAL_FIELDS:
            self.report_error(
                GraphQLError(
                    "An operation may hold at most one of login, register, changePassword "
                    "and refreshToken (reauthenticate, requestEmailChange and deleteAccount count "
                    f"as one); this one holds {found}.",
                    node,
                )
            )
            return
        names = [n for n in root_field_names(node.selection_set, self.fragments) if n != "__typename"]
        issuing = sorted(ISSUING_FIELDS.intersection(names))
        if issuing and len(names) > 1:
            self.report_error(
                GraphQLError(
                    f"{issuing[0]} hands out a credential and must be the only field of its "
                    "operation (another field's error would void the answer that carries it).",
                    node,
                )
            )
