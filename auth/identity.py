"""Who a request comes from. Anonymous is an object, never `None`."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING

from core.clock import as_utc

if TYPE_CHECKING:
    from models import Credential, User


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
    `expires_at` is when the credential's row expires (aware UTC), `None` for Basic; for
    an API token it bounds the tokens it may create.

    `auth_time` is when the user last proved who they are for this credential (aware
    UTC; contract section 12): the sign-in that made a session or refresh family, renewed
    by `reauthenticate`; for Basic, the request itself. `amr` names the methods of that
    proof (RFC 8176: `("pwd",)` for a password). `credential_kind` is the row's kind
    (`"SESSION"`, `"REFRESH"` for an access JWT's family, `"API_TOKEN"`), `None` for
    Basic (no row) and anonymous.
    """

    user: User | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] | None = None
    scheme: Scheme = Scheme.NONE
    credential_id: str | None = None
    # How the credential arrived: "Bearer", "Token", "Basic" or "cookie".
    presented_as: str | None = None
    expires_at: datetime | None = None
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    credential_kind: str | None = None

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

# RFC 8176's name for a password, the method of a login, register, Basic or reauthenticate.
PASSWORD = "pwd"
PASSWORD_AMR: tuple[str, ...] = (PASSWORD,)
# A sign-in through another OpenID provider (contract section 12: `ext`), and the
# credential kind of a linked identity, whose provider tokens are bearer credentials.
EXTERNAL = "ext"
EXTERNAL_AMR: tuple[str, ...] = (EXTERNAL,)
EXTERNAL_KIND = "EXTERNAL"


def credential_identity(credential: Credential, scheme: Scheme, presented_as: str) -> Identity:
    """The identity a live credential row (with its user loaded) stands for."""
    user = credential.user
    return Identity(
        user=user,
        roles=frozenset(user.roles),
        scopes=frozenset(credential.scopes) if scheme is Scheme.TOKEN else None,
        scheme=scheme,
        credential_id=str(credential.id),
        presented_as=presented_as,
        expires_at=as_utc(credential.expires_at),
        auth_time=as_utc(credential.auth_time) if credential.auth_time is not None else None,
        amr=tuple(credential.amr or ()),
        credential_kind=getattr(credential.kind, "value", credential.kind),
    )


class DerivedIdentities:
    """The `Identity` made from each credential row, kept while that very row object is
    served again (by the identity cache). A row read again, after a revocation or a role
    change, is a new object and gets a new identity; holding the row and checking it
    with `is` keeps a recycled `id()` from ever matching. Without an identity cache every
    request reads a new row, so there is nothing to keep (`enabled=False`)."""

    def __init__(self, enabled: bool = True, max_entries: int = 4096) -> None:
        self._enabled = enabled
        self._max_entries = max_entries
        self._made: OrderedDict[tuple[int, Scheme, str], tuple[Credential, Identity]] = OrderedDict()

    def of(self, credential: Credential, scheme: Scheme, presented_as: str) -> Identity:
        """The identity of `credential` presented as `presented_as` ("Bearer", "cookie"...)."""
        if not self._enabled:
            return credential_identity(credential, scheme, presented_as)
        key = (id(credential), scheme, presented_as)
        found = self._made.get(key)
        if found is not None and found[0] is credential:
            return found[1]
        identity = credential_identity(credential, scheme, presented_as)
        self._made[key] = (credential, identity)
        if len(self._made) > self._max_entries:
            self._made.popitem(last=False)
        return identity
