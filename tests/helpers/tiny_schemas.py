"""What the unit tests of permissions share when they build a tiny schema: the smallest
context a permission reads, an identity made without a database, and the server's
error coding applied to a direct `schema.execute` result."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from strawberry.extensions import SchemaExtension

from auth.identity import Identity, Scheme
from models import User
from schema.engine import Phase
from web.errors import code_error


@dataclass
class Ctx:
    """The smallest context the permissions need."""

    identity: Identity


def identity_of(
    user_id: uuid.UUID | None = None,
    *,
    roles: tuple[str, ...] = (),
    scopes: frozenset[str] | None = None,
    scheme: Scheme | None = None,
    kind: str | None = None,
    auth_time: datetime | None = None,
    verified_at: datetime | None = None,
) -> Identity:
    """A signed-in identity on an unsaved user row (API-token scheme when `scopes` is given,
    else JWT, unless `scheme` says otherwise)."""
    user_id = user_id or uuid.uuid4()
    user = User(id=user_id, username=f"user_{str(user_id)[:6]}", roles=list(roles))
    user.email_verified_at = verified_at
    if scheme is None:
        scheme = Scheme.TOKEN if scopes is not None else Scheme.JWT
    return Identity(
        user=user,
        roles=frozenset(roles),
        scopes=scopes,
        scheme=scheme,
        credential_kind=kind,
        auth_time=auth_time,
        amr=("pwd",),
    )


class ErrorCodes(SchemaExtension):
    """Codes each error through the server's one error exit, as the HTTP face does."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [code_error(e, Phase.EXECUTION) for e in result.errors]  # type: ignore[union-attr]
