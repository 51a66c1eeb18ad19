"""Permission classes. Each prints in the SDL as a directive with its arguments.

A permission raises the right error itself, so one check can answer
`UNAUTHENTICATED` (nobody is signed in), `FORBIDDEN` (signed in, not allowed) or
`INSUFFICIENT_AUTH` (signed in too long ago). Attach them with `extensions=gated(...)`,
the one way: it enforces them, prints their directives, and runs the object-level
check of `IsOwnerOrHasRole` on what a root field returns.

Every class answers `could_allow(identity)`: whether a caller with this identity could
use the field at all, judged without any object (`?viewer=me` and `viewer.can`).
Object-level classes say yes to any signed-in user (for their own objects).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import timedelta
from typing import Any, Literal

import strawberry
from strawberry.exceptions import (
    PermissionReturnedAwaitableInSyncContextError,
    PermissionReturnedNonBooleanError,
)
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location
from strawberry.types import Info
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.field import StrawberryField

from auth.identity import Identity, Scheme
from core.clock import utcnow
from core.errors import Forbidden, InsufficientAuth, Unauthenticated

AUTHENTICATION_REQUIRED = "Authentication required."
API_TOKEN = "API_TOKEN"


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="isAuthenticated")
class IsAuthenticatedDirective:
    """Requires a signed-in user."""


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="hasRole", repeatable=True)
class HasRoleDirective:
    """Requires the user to hold `role`."""

    role: str


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="hasScope", repeatable=True)
class HasScopeDirective:
    """Requires the credential to carry `scope` (API tokens carry only what they were given)."""

    scope: str


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="isSelfOrHasRole", repeatable=True)
class IsSelfOrHasRoleDirective:
    """Requires the parent object to be the user themselves, or the user to hold `role`."""

    role: str


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="isOwnerOrHasRole", repeatable=True)
class IsOwnerOrHasRoleDirective:
    """Requires the object (what a root field returns, else the parent object) to belong
    to the user, or the user to hold `role`. `onList: "refuse"` (printed only when set):
    a list with any object not allowed is refused whole; by default such objects are
    left out."""

    role: str
    on_list: str | None = strawberry.UNSET


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="isVerified")
class IsVerifiedDirective:
    """Requires the user's email address to be verified."""


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="requiresFreshAuth")
class RequiresFreshAuthDirective:
    """Requires the credential's sign-in to be at most `maxAge` seconds old
    (`reauthenticate` renews it); Basic is always fresh, API tokens are exempt."""

    max_age: int


# Every directive a permission class of this module prints, for checks that a field's
# rule is shown (`schema/public.py`).
PERMISSION_DIRECTIVES: tuple[type, ...] = (
    IsAuthenticatedDirective,
    HasRoleDirective,
    HasScopeDirective,
    IsSelfOrHasRoleDirective,
    IsOwnerOrHasRoleDirective,
    IsVerifiedDirective,
    RequiresFreshAuthDirective,
)


def identity_of(info: Info) -> Identity:
    """The identity resolved for this request."""
    identity: Identity = info.context.identity
    return identity


def _require_user(info: Info) -> Identity:
    identity = identity_of(info)
    if not identity.is_authenticated:
        raise Unauthenticated(AUTHENTICATION_REQUIRED)
    return identity


class GatehousePermission(BasePermission):
    """A permission class of Gatehouse: it raises its own coded error and can say, from
    the identity alone, whether the field could be used at all."""

    def could_allow(self, identity: Identity) -> bool:
        """Whether a caller with `identity` could use the field (no object at hand)."""
        raise NotImplementedError


class IsAuthenticated(GatehousePermission):
    """Any signed-in user."""

    message = AUTHENTICATION_REQUIRED

    @property
    def schema_directive(self) -> object:
        return IsAuthenticatedDirective()

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        _require_user(info)
        return True

    def could_allow(self, identity: Identity) -> bool:
        """Any signed-in user."""
        return identity.is_authenticated


class HasRole(GatehousePermission):
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

    def could_allow(self, identity: Identity) -> bool:
        """A signed-in user holding the role."""
        return identity.is_authenticated and identity.has_role(self.role)


class HasScope(GatehousePermission):
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

    def could_allow(self, identity: Identity) -> bool:
        """A credential carrying the scope."""
        return identity.has_scope(self.scope)


class IsSelfOrHasRole(GatehousePermission):
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

    def could_allow(self, identity: Identity) -> bool:
        """Any signed-in user: their own user object at least."""
        return identity.is_authenticated


def _owner_of(obj: Any, owner_field: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(owner_field)
    return getattr(obj, owner_field, None)


OnList = Literal["filter", "refuse"]


class IsOwnerOrHasRole(GatehousePermission):
    """The object's owner, or a user holding `role` (the shape of DRF's
    `has_object_permission`).

    Which object: on a root field (of `Query`, `Mutation` or `Subscription`) the value
    the resolver returned (sync or async resolvers, one object, `None`, or a list, and
    each event of a subscription); on a field of an object type, the parent object
    (the source) the field belongs to, checked before the resolver runs. The object
    belongs to the user when its `owner_field` attribute (or key, for a mapping) equals
    the user's id; an object without it belongs to nobody.

    A list is judged item by item: with `on_list="filter"` (the default) the objects the
    user may not see are left out, silently; with `on_list="refuse"` one such object
    makes the whole field `FORBIDDEN`. A single object not allowed is `FORBIDDEN`, and
    `None` stays `None`. The role, when held, allows every object. Anonymous callers get
    `UNAUTHENTICATED` before the resolver runs. A paginated connection is not a list:
    put the rule on the node type's fields, or filter in the resolver.

    A subscription's stream is judged as a list, event by event: with
    `on_list="filter"` an event the user may not see is skipped and the stream goes on;
    with `on_list="refuse"` such an event is `FORBIDDEN` (and ends the stream). An event
    that is itself a list (`AsyncGenerator[list[Note], None]`) is filtered or refused
    as a list field's value is.

    On a mutation the check on the returned value comes after the resolver ran: it
    guards the answer, not the write. So start-up refuses `IsOwnerOrHasRole` on a
    `Mutation` root field unless it is declared `judged_before_write=True`: the
    resolver loads the object and calls `permission.judge(identity, row, is_list=False)`
    before it writes (examples/notes/resolvers.py). The returned value is still judged
    after, as on any root field.

    Prints as `@isOwnerOrHasRole(role: "admin")`, with `onList: "refuse"` when refusing
    (the default is not printed); `owner_field` and `judged_before_write` are Python
    details and are not printed.
    """

    def __init__(
        self,
        role: str,
        owner_field: str = "owner_id",
        on_list: OnList = "filter",
        *,
        judged_before_write: bool = False,
    ) -> None:
        if on_list not in ("filter", "refuse"):
            raise ValueError(f'on_list must be "filter" or "refuse", not {on_list!r}')
        self.role = role
        self.owner_field = owner_field
        self.on_list = on_list
        self.judged_before_write = judged_before_write
        self.message = f"Only the owner or the {role} role may see this."
        self._directive = IsOwnerOrHasRoleDirective(
            role=role, on_list=on_list if on_list != "filter" else strawberry.UNSET
        )

    @property
    def schema_directive(self) -> object:
        return self._directive

    def owns(self, identity: Identity, obj: Any) -> bool:
        """Whether `obj` belongs to the signed-in `identity`."""
        owner = _owner_of(obj, self.owner_field)
        return owner is not None and str(owner) == identity.user_id

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        identity = _require_user(info)
        if info.path.prev is None or identity.has_role(self.role):
            return True  # a root field's object is judged once resolved (`gated`)
        if self.owns(identity, source):
            return True
        raise Forbidden(self.message or "Forbidden.")

    def judge(self, identity: Identity, value: Any, is_list: bool) -> Any:
        """What a root field answers once its resolver returned `value`."""
        if value is None or identity.has_role(self.role):
            return value
        if not is_list:
            if self.owns(identity, value):
                return value
            raise Forbidden(self.message or "Forbidden.")
        items = list(value)
        allowed = [item for item in items if item is not None and self.owns(identity, item)]
        if self.on_list == "refuse" and len(allowed) != sum(1 for item in items if item is not None):
            raise Forbidden(self.message or "Forbidden.")
        return allowed if self.on_list == "filter" else items

    def could_allow(self, identity: Identity) -> bool:
        """Any signed-in user: their own objects at least."""
        return identity.is_authenticated


class IsVerified(GatehousePermission):
    """A signed-in user whose email address is verified (`User.email_verified_at`)."""

    message = "Requires a verified email address."

    @property
    def schema_directive(self) -> object:
        return IsVerifiedDirective()

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not self.could_allow(_require_user(info)):
            raise Forbidden(self.message)
        return True

    def could_allow(self, identity: Identity) -> bool:
        """A signed-in user with a verified email address."""
        return identity.user is not None and getattr(identity.user, "email_verified_at", None) is not None


class RequiresFreshAuth(GatehousePermission):
    """A credential whose sign-in (`auth_time`) is at most `max_age` seconds old.

    An older one gets `INSUFFICIENT_AUTH` with `extensions.maxAge`; `reauthenticate`
    renews it. Basic proves the password on every request, so it is always fresh; API
    tokens are exempt, their scopes being their limit (contract section 12). A session
    or refresh family without an `auth_time` counts as stale.
    """

    def __init__(self, max_age: int) -> None:
        if max_age < 0:
            raise ValueError("max_age is a number of seconds, at least 0")
        self.max_age = max_age
        self._max_age = timedelta(seconds=max_age)
        self._directive = RequiresFreshAuthDirective(max_age=max_age)

    @property
    def schema_directive(self) -> object:
        return self._directive

    def is_fresh(self, identity: Identity) -> bool:
        """Whether `identity`'s sign-in is recent enough (or needs no freshness)."""
        if identity.scheme is Scheme.BASIC or identity.credential_kind == API_TOKEN:
            return True
        return identity.auth_time is not None and utcnow() - identity.auth_time <= self._max_age

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not self.is_fresh(_require_user(info)):
            raise InsufficientAuth(self.max_age)
        return True

    def could_allow(self, identity: Identity) -> bool:
        """Any signed-in user: a stale sign-in can be renewed with `reauthenticate`."""
        return identity.is_authenticated


def refused(
    extension: PermissionExtension, permission: BasePermission, answer: object, *, awaited: bool = False
) -> Any:
    """What a permission's answer other than `True` leads to, exactly as Strawberry's
    `PermissionExtension` decides it. The one place for it: `GatedExtension` (sync and
    async) and the compiled engine's `Guard` (schema/engine/plans.py) call it only once
    an answer is not `True`, so the common path costs them one identity test.

    - An awaitable where it cannot be awaited (`awaited=False`, a sync field): closed
      when a coroutine, then `PermissionReturnedAwaitableInSyncContextError` (it is
      truthy whatever it would resolve to: trusting it would grant access).
    - Anything else but a bool (in an async field, what the awaitable resolved to):
      `PermissionReturnedNonBooleanError`, a coroutine closed first.
    - `False`: `None` (or `[]` for a list) when the extension fails silently, else the
      permission's `on_unauthorized()`, which raises its error.
    """
    if not awaited and inspect.isawaitable(answer):
        if inspect.iscoroutine(answer):
            answer.close()
        raise PermissionReturnedAwaitableInSyncContextError(permission)
    if answer is not False:
        if inspect.iscoroutine(answer):
            answer.close()
        raise PermissionReturnedNonBooleanError(permission, answer)
    if extension.fail_silently:
        return [] if extension.return_empty_list else None
    return permission.on_unauthorized()


def _returns_list(field: StrawberryField) -> bool:
    field_type = field.type
    if isinstance(field_type, StrawberryOptional):
        field_type = field_type.of_type
    return isinstance(field_type, StrawberryList)


class GatedExtension(PermissionExtension):
    """Strawberry's `PermissionExtension` (checks before the resolver, directives in the
    SDL), plus the object-level check of `IsOwnerOrHasRole` on what a root field
    returned. Fields of object types are judged by their source, before resolving.

    The checks run on every gated field of every request, so the common answer (`True`)
    takes one identity test; anything else gets Strawberry's own handling (`refused`):
    `False` its `on_unauthorized`, an awaitable in a sync field or a non-boolean its
    errors."""

    def __init__(self, permissions: list[BasePermission]) -> None:
        super().__init__(permissions=permissions)
        self.checks = tuple((p, p.has_permission) for p in permissions)
        self.object_permissions = tuple(p for p in permissions if isinstance(p, IsOwnerOrHasRole))
        self.returns_list = False

    def apply(self, field: StrawberryField) -> None:
        super().apply(field)
        self.returns_list = _returns_list(field)

    def _judge(self, value: Any, info: Info) -> Any:
        identity = identity_of(info)
        for permission in self.object_permissions:
            value = permission.judge(identity, value, self.returns_list)
        return value

    async def _judge_later(self, awaitable: Any, info: Info) -> Any:
        return self._judge(await awaitable, info)

    async def _judge_each(self, events: AsyncGenerator[Any, Any], info: Info) -> AsyncIterator[Any]:
        """A subscription's events, judged as a list's items: one the caller may not see
        is skipped (`on_list="filter"`) or `FORBIDDEN` (`"refuse"`). An event that is a
        list is judged as a list field's value."""
        try:
            async for event in events:
                if self.returns_list or event is None:
                    yield self._judge(event, info)
                    continue
                identity = identity_of(info)
                # As a one-item list: [] when filtered out, FORBIDDEN when refused.
                if all(p.judge(identity, (event,), is_list=True) for p in self.object_permissions):
                    yield event
        finally:
            await events.aclose()  # the resolver's own generator ends with the stream

    def _judged(self, value: Any, info: Info) -> Any:
        if inspect.isasyncgen(value):
            return self._judge_each(value, info)
        if inspect.isawaitable(value):  # a sync resolver may hand back a query to await
            return self._judge_later(value, info)
        return self._judge(value, info)

    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        for permission, has_permission in self.checks:
            answer = has_permission(source, info, **kwargs)
            if answer is not True:
                return refused(self, permission, answer)
        value = next_(source, info, **kwargs)
        if self.object_permissions and info.path.prev is None:
            return self._judged(value, info)
        return value

    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        for permission, has_permission in self.checks:
            answer = has_permission(source, info, **kwargs)
            if answer is not True:
                if inspect.isawaitable(answer):
                    answer = await answer
                if answer is not True:
                    return refused(self, permission, answer, awaited=True)
        value = next_(source, info, **kwargs)
        if not inspect.isasyncgen(value):
            value = await value
        if self.object_permissions and info.path.prev is None:
            value = self._judged(value, info)
            if inspect.isawaitable(value):
                value = await value
        return value


def gated(*permissions: BasePermission) -> list[FieldExtension]:
    """Field extensions that run `permissions` in order and print them as directives
    (and, for `IsOwnerOrHasRole` on a root field, judge the object it returns)."""
    return [GatedExtension(permissions=list(permissions))]
