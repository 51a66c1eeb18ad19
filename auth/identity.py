"""Who a request comes from. Anonymous is an object, never `None`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models import User


class Scheme(str, Enum):
    """The authentication scheme a request used (names as in `AUTH_SCHEMES`)."""

    NONE = "none"
    SESSION = "session"
    JWT = "jwt"
    TOKEN = "token"
    BASIC = "basic"


@dataclass(frozen=True)
class Identity:
    """The user behind a request, with what the credential allows.

    `scopes` is `None` for credentials that carry all of the user's rights (session,
    JWT, Basic); API tokens carry the explicit set they were created with.
    """

    user: User | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] | None = None
    scheme: Scheme = Scheme.NONE
    credential_id: str | None = None
    # How the credential arrived: "Bearer", "Token", "Basic" or "cookie".
    presented_as: str | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def is_authenticated(self) -> bool:
        """True for a real, active user."""
        return self.user is not None

    @cached_property
    def user_id(self) -> str | None:
        """The user's id as a string, or `None` when anonymous (formatted once: permission
        checks ask for it on every gated field)."""
        return str(self.user.id) if self.user is not None else None

    def has_role(self, role: str) -> bool:
        """Whether the user holds `role`."""
        return role in self.roles

    def has_scope(self, scope: str) -> bool:
        """Whether the credential allows `scope` (always, for full-rights credentials)."""
        return self.is_authenticated and (self.scopes is None or scope in self.scopes)


ANONYMOUS = Identity()
