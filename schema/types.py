"""GraphQL object types. They wrap model rows; resolvers stay thin."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from auth.permissions import IsSelfOrHasRole, gated
from models import Credential as CredentialRow
from models import CredentialKind as KindEnum
from models import User as UserRow
from schema.viewer import viewer_schemas
from services import users


@strawberry.enum(description="How login and register hand back the credential.")
class Transport(Enum):
    COOKIE = "COOKIE"
    BEARER = "BEARER"


CredentialKind = strawberry.enum(KindEnum, name="CredentialKind")


@strawberry.type(description="An account.")
class User:
    id: strawberry.ID
    username: str
    email: str = strawberry.field(extensions=gated(IsSelfOrHasRole("admin")))
    # Gated as `email`: whether an address is verified says something about the address.
    email_verified: bool = strawberry.field(
        description="False until the owner proves the address is theirs.",
        extensions=gated(IsSelfOrHasRole("admin")),
    )
    roles: list[str]
    created_at: datetime

    @classmethod
    def from_row(cls, row: UserRow | users.ListedUser) -> User:
        """Wrap a model row (or a row of a page of users)."""
        return cls(
            id=strawberry.ID(str(row.id)),
            username=row.username,
            email=row.email,
            email_verified=row.email_verified_at is not None,
            roles=list(row.roles),
            created_at=row.created_at,
        )


@strawberry.type(
    description="A session, refresh-token family, API token or linked identity (EXTERNAL) of the caller."
)
class Credential:
    id: strawberry.ID
    kind: CredentialKind  # type: ignore[valid-type]
    name: str | None
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    user_agent: str | None
    current: bool

    @classmethod
    def from_row(cls, row: CredentialRow, current_id: str | None) -> Credential:
        """Wrap a model row; `current` marks the credential of this request. A linked
        identity is named by its provider and does not expire (it lasts until revoked)."""
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            name=row.name,
            scopes=list(row.scopes),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=None if row.kind == KindEnum.EXTERNAL else row.expires_at,
            user_agent=row.user_agent,
            current=str(row.id) == current_id,
        )


@strawberry.type(description="The result of register, login and refreshToken.")
class AuthPayload:
    user: User
    access_token: str | None = strawberry.field(default=None, description="BEARER only.")
    refresh_token: str | None = strawberry.field(default=None, description="BEARER only.")
    token_type: str | None = strawberry.field(default=None, description='"Bearer" with BEARER.')
    expires_in: int | None = strawberry.field(default=None, description="Seconds until accessToken expires.")


@strawberry.type(description="Where to send the browser to sign in with (or link) another provider.")
class ExternalLogin:
    url: str = strawberry.field(
        description="The provider's authorization URL (code flow, PKCE S256, state, nonce); "
        "it ends at /auth/callback/{provider}."
    )


@strawberry.type(description="A new API token; `token` is shown once, never again.")
class ApiTokenPayload:
    token: str
    credential: Credential


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class UserEdge:
    cursor: str
    node: User


@strawberry.type(description="A page of users, oldest first.")
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many users there are in all.")

    @strawberry.field(description="The users of this page, without cursors.")
    def nodes(self, info: Info) -> list[User]:
        return [edge.node for edge in self.edges]


@strawberry.type(description="What the caller's credential could use (contract section 7).")
class Viewer:
    @strawberry.field(
        description=(
            "Whether the caller's credential could use `field`, named as `Type.field` "
            "(`Mutation.grantRole`, `Query.users`, `User.email`): true exactly when "
            "`/graphql/schema.graphql?viewer=me` lists it. For UIs that hide what the caller "
            "cannot do; the field's own permissions still decide when it runs."
        )
    )
    def can(self, info: Info, field: str) -> bool:
        return viewer_schemas(info.schema).can(info.context.identity, field)
