"""Root fields that are deliberately public: no permission directive on purpose."""

from __future__ import annotations

import strawberry
from strawberry.permission import PermissionExtension

from auth.permissions import (
    HasRoleDirective,
    HasScopeDirective,
    IsAuthenticatedDirective,
    IsSelfOrHasRoleDirective,
)

PUBLIC_FIELDS = frozenset({"Query.me", "Mutation.register", "Mutation.login", "Mutation.refreshToken"})

PERMISSION_DIRECTIVES = (
    IsAuthenticatedDirective,
    HasRoleDirective,
    HasScopeDirective,
    IsSelfOrHasRoleDirective,
)
ROOT_TYPES = ("Query", "Mutation", "Subscription")


def ungated_root_fields(schema: strawberry.Schema, public: frozenset[str] = PUBLIC_FIELDS) -> list[str]:
    """Root fields (`"Type.field"`) that neither carry a permission nor are listed as public.

    A field counts as gated only when a `PermissionExtension` with at least one
    permission guards it *and* a permission directive shows it in the SDL: a directive
    alone enforces nothing, and a permission without a directive is invisible to clients.
    """
    ungated: list[str] = []
    for type_name in ROOT_TYPES:
        definition = schema.get_type_by_name(type_name)
        for field in getattr(definition, "fields", None) or []:
            name = f"{type_name}.{schema.config.name_converter.get_graphql_name(field)}"
            enforced = any(
                isinstance(extension, PermissionExtension) and extension.permissions
                for extension in field.extensions
            )
            shown = any(isinstance(directive, PERMISSION_DIRECTIVES) for directive in field.directives)
            if not (enforced and shown) and name not in public:
                ungated.append(name)
    return ungated
