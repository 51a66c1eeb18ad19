"""Permissions a developer can see (contract section 7): each gated field's description
ends with its rule in words, so GraphiQL's docs and introspection show it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry import UNSET
from strawberry.permission import PermissionExtension
from strawberry.utils.str_converters import to_camel_case

RULE_PREFIX = "Requires: "


def directive_text(directive: Any) -> str:
    """`@hasRole(role: "admin")`: a permission's directive as the SDL prints it."""
    name = type(directive).__strawberry_directive__.graphql_name
    arguments = [
        f"{to_camel_case(field.name)}: {json.dumps(value)}"
        for field in dataclasses.fields(directive)
        if (value := getattr(directive, field.name)) is not UNSET  # unset arguments are not printed
    ]
    return f"@{name}({', '.join(arguments)})" if arguments else f"@{name}"


def field_rule(strawberry_field: Any) -> str | None:
    """The rule guarding a field (`@isAuthenticated, @hasScope(scope: "x")`), or `None`."""
    directives = [
        directive_text(permission.schema_directive)
        for extension in getattr(strawberry_field, "extensions", None) or ()
        if isinstance(extension, PermissionExtension)
        for permission in extension.permissions
        if getattr(permission, "schema_directive", None) is not None
    ]
    return ", ".join(directives) if directives else None


def describe_rules(schema: GraphQLSchema) -> None:
    """End every gated field's description with `Requires: <its rule>` (once)."""
    for type_name, named_type in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(named_type, GraphQLObjectType):
            continue
        for field in named_type.fields.values():
            rule = field_rule((field.extensions or {}).get("strawberry-definition"))
            if rule is None:
                continue
            text = RULE_PREFIX + rule
            description = field.description or ""
            if description.endswith(text):
                continue
            field.description = f"{description}\n\n{text}" if description else text
