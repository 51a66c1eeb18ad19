"""Permission classes. Each prints in the SDL as a directive with its arguments.

A permission raises the right error itself, so one check can answer
`UNAUTHENTICATED` (nobody is signed in) or `FORBIDDEN` (signed in, not allowed).
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location
from strawberry.types import Info

from auth.identity import Identity
from core.errors import Forbidden, Unauthenticated

AUTHENTICATION_REQUIRED = "Authentication required."


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="isAuthenticated")
class IsAuthenticatedDirective:
    """Requires a signed-in user."""


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="hasRole")
class HasRoleDirective:
    """Requires the user to hold `role`."""

    role: str


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="hasScope")
class HasScopeDirective:
    """Requires the credential to carry `scope` (API tokens carry only what they were given)."""

    scope: str


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="isSelfOrHasRole")
class IsSelfOrHasRoleDirective:
    """Requires the parent object to be the user themselves, or the user to hold `role`."""

    role: str


def identity_of(info: Info) -> Identity:
    """The identity resolved for this request."""
    identity: Identity = info.context.identity
    return identity


def _require_user(info: Info) -> Identity:
    identity = identity_of(info)
    if not identity.is_authenticated:
        raise Unauthenticated(AUTHENTICATION_REQUIRED)
    return identity


class IsAuthenticated(BasePermission):
    """Any signed-in user."""

    message = AUTHENTICATION_REQUIRED

    @property
    def schema_directive(self) -> object:
        return IsAuthenticatedDirective()

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        _require_user(info)
        return True


class HasRole(BasePermission):
    """A signed-in user holding `role`."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.message = f"Requires the {role} role."

    @property
    def schema_directive(self) -> object:
        return HasRoleDirective(role=self.role)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not _require_user(info).has_role(self.role):
            raise Forbidden(self.message or "Forbidden.")
        return True


class HasScope(BasePermission):
    """A credential carrying `scope`; sessions, JWTs and Basic carry every scope."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.message = f"The credential lacks the {scope} scope."

    @property
    def schema_directive(self) -> object:
        return HasScopeDirective(scope=self.scope)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not _require_user(info).has_scope(self.scope):
            raise Forbidden(self.message or "Forbidden.")
        return True


class IsSelfOrHasRole(BasePermission):
    """The user the field belongs to, or a user holding `role`."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.message = f"Only the user themselves or the {role} role may see this."

    @property
    def schema_directive(self) -> object:
        return IsSelfOrHasRoleDirective(role=self.role)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        identity = _require_user(info)
        owner = getattr(source, "id", None)
        if identity.has_role(self.role) or (owner is not None and str(owner) == identity.user_id):
            return True
        raise Forbidden(self.message or "Forbidden.")


def gated(*permissions: BasePermission) -> list[FieldExtension]:
    """Field extensions that run `permissions` in order and print them as directives."""
    return [PermissionExtension(permissions=list(permissions))]
