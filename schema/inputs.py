"""GraphQL input types."""

from __future__ import annotations

import strawberry

from schema.types import Transport


@strawberry.input
class RegisterInput:
    username: str
    email: str
    password: str
    transport: Transport | None = Transport.COOKIE


@strawberry.input
class LoginInput:
    login: str = strawberry.field(description="A username or an email, ignoring case.")
    password: str
    transport: Transport | None = Transport.COOKIE
