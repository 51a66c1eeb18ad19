"""Deny by default (contract section 8): every root field is gated or declared public.

A root field of `Query`, `Mutation` or `Subscription` (Gatehouse's and every schema
module's) is served only when it carries a permission, or says it is public on purpose
with `metadata={"public": True}` on its `strawberry.field` / `mutation` / `subscription`.
`build_schema` refuses any other schema at start-up, naming each such field.

It also refuses an object check that would come after a write: `IsOwnerOrHasRole` on a
`Mutation` root field judges what the mutation returned, once the write is done, unless
the permission says the resolver judged the object before writing
(`judged_before_write=True`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.field import StrawberryField

from auth.permissions import IsOwnerOrHasRole

ROOT_TYPES = ("Query", "Mutation", "Subscription")
PUBLIC = "public"


def public(**metadata: Any) -> dict[str, Any]:
    """The `metadata=` of a field that is public on purpose: `metadata=public()`."""
    return {**metadata, PUBLIC: True}


def is_declared_public(field: StrawberryField) -> bool:
    """Whether the field says `metadata={"public": True}` (exactly True, not truthy)."""
    metadata: dict[str, Any] = dict(field.metadata or {})
    return metadata.get(PUBLIC) is True


def permissions_of(field: StrawberryField) -> list[BasePermission]:
    """The permissions the field's `PermissionExtension`s run, in order."""
    return [
        permission
        for extension in field.extensions
        if isinstance(extension, PermissionExtension)
        for permission in extension.permissions
    ]


def _shown(permission: BasePermission, field: StrawberryField) -> bool:
    """Whether the permission's own directive is printed on the field."""
    directive = permission.schema_directive
    return directive is not None and any(
        type(applied) is type(directive) and applied == directive for applied in field.directives
    )


def is_gated(field: StrawberryField) -> bool:
    """A field is gated when at least one permission guards it and every permission
    guarding it shows as its directive: a directive alone enforces nothing, and a
    permission without its directive (the legacy `permission_classes=`) is invisible to
    clients. Directives are recognised generically (whatever a permission prints), so a
    new permission class needs no change here."""
    permissions = permissions_of(field)
    return bool(permissions) and all(_shown(p, field) for p in permissions)


def root_fields(schema: strawberry.Schema) -> Iterator[tuple[str, StrawberryField]]:
    """Each root field as (`"Type.field"`, its definition)."""
    for type_name in ROOT_TYPES:
        definition = schema.get_type_by_name(type_name)
        for field in getattr(definition, "fields", None) or []:
            yield f"{type_name}.{schema.config.name_converter.get_graphql_name(field)}", field


def public_root_fields(schema: strawberry.Schema) -> list[str]:
    """Root fields declared public (`metadata={"public": True}`)."""
    return [name for name, field in root_fields(schema) if is_declared_public(field)]


def ungated_root_fields(schema: strawberry.Schema) -> list[str]:
    """Root fields (`"Type.field"`) that neither carry a permission nor are declared public."""
    return [
        name for name, field in root_fields(schema) if not is_gated(field) and not is_declared_public(field)
    ]


def judged_after_write(schema: strawberry.Schema) -> list[str]:
    """`Mutation` root fields (`"Mutation.field"`) with an `IsOwnerOrHasRole` not declared
    `judged_before_write=True`: its check of the returned object would come after the write."""
    return [
        name
        for name, field in root_fields(schema)
        if name.startswith("Mutation.")
        and any(isinstance(p, IsOwnerOrHasRole) and not p.judged_before_write for p in permissions_of(field))
    ]
