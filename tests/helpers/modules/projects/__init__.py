"""A schema module for the tests (`SCHEMA_MODULES=tests.helpers.modules.projects`).

Not the example (examples/notes): it exercises what a module may bring. A model owned by
a user with its own migration; a gated list (object-level, filtered) and a gated object
field, a gated mutation, one public field; an interface, a union, async resolvers and a
subscription, all guarded by Gatehouse's own permission classes and seeing the identity
Gatehouse's fields see (`info.context.identity`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from auth.permissions import HasRole, HasScope, IsAuthenticated, IsOwnerOrHasRole, gated
from tests.helpers.modules.projects import service

MODELS = ["tests.helpers.modules.projects.models"]
READ = "projects:read"
WRITE = "projects:write"
ADMIN = "admin"


@strawberry.interface
class Named:
    """Anything with a name."""

    name: str


@strawberry.type
class Project(Named):
    """A project; `ownerId` is the user who created it."""

    id: strawberry.ID
    owner_id: strawberry.ID
    created_at: datetime


@strawberry.type
class Tag(Named):
    """A label that is not stored: search answers it beside projects."""

    colour: str


SearchHit = Annotated[Project | Tag, strawberry.union("ProjectSearchHit")]


def _project(row: service.Project) -> Project:
    return Project(id=strawberry.ID(str(row.id)), owner_id=strawberry.ID(str(row.owner_id)),
                   name=row.name, created_at=row.created_at)  # fmt: skip


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def projects(info: Info) -> list[Project]:
    """Every project; the permission keeps the caller's own (all of them for admins)."""
    return [_project(row) for row in await service.every_project()]


async def project(info: Info, id: strawberry.ID) -> Project | None:
    """One project by id; another user's is FORBIDDEN."""
    row = await service.by_id(str(id)) if _is_uuid(str(id)) else None
    return None if row is None else _project(row)


async def search(info: Info, text: str) -> list[SearchHit]:
    """The caller's projects whose name holds `text`, then a tag of that name."""
    user_id = info.context.identity.user_id
    rows = [row for row in await service.named_like(text) if str(row.owner_id) == user_id]
    return [*(_project(row) for row in rows), Tag(name=text, colour="green")]


async def named(info: Info) -> list[Named]:
    """The caller's projects and one tag, through the interface."""
    user_id = info.context.identity.user_id
    rows = [row for row in await service.every_project() if str(row.owner_id) == user_id]
    return [*(_project(row) for row in rows), Tag(name="inbox", colour="grey")]


def status() -> str:
    """Whether the module is up: public on purpose."""
    return "projects: ok"


@strawberry.type
class Query:
    projects: list[Project] = strawberry.field(
        resolver=projects, extensions=gated(IsAuthenticated(), HasScope(READ), IsOwnerOrHasRole(ADMIN))
    )
    project: Project | None = strawberry.field(
        resolver=project, extensions=gated(IsAuthenticated(), HasScope(READ), IsOwnerOrHasRole(ADMIN))
    )
    project_search: list[SearchHit] = strawberry.field(
        resolver=search, extensions=gated(IsAuthenticated(), HasScope(READ))
    )
    named_things: list[Named] = strawberry.field(
        resolver=named, extensions=gated(IsAuthenticated(), HasScope(READ))
    )
    projects_status: str = strawberry.field(resolver=status, metadata={"public": True})


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=gated(IsAuthenticated(), HasScope(WRITE)))
    async def create_project(self, info: Info, name: str) -> Project:
        """A new project owned by the caller."""
        user_id = info.context.identity.user_id
        return _project(await service.create(user_id, name))


@strawberry.type
class Subscription:
    @strawberry.subscription(extensions=gated(IsAuthenticated(), HasScope(READ)))
    async def project_ticks(self, info: Info, count: int = 3) -> AsyncGenerator[str, None]:
        """`count` ticks, each naming the caller: the socket's identity, as a request's."""
        for number in range(count):
            yield f"{number}:{info.context.identity.user.username}"
            await asyncio.sleep(0)

    @strawberry.subscription(extensions=gated(IsAuthenticated(), HasScope(READ)))
    async def project_watch(self, info: Info) -> AsyncGenerator[str, None]:
        """One event, then open until the client completes it (or the socket goes)."""
        yield "watching"
        await asyncio.Event().wait()
        yield "never"  # pragma: no cover - nothing sets the event

    @strawberry.subscription(extensions=gated(IsAuthenticated(), HasRole(ADMIN)))
    async def project_admin_watch(self, info: Info) -> AsyncGenerator[str, None]:
        """For admins: one event, then open (a withdrawn role ends it with FORBIDDEN)."""
        yield "watching"
        await asyncio.Event().wait()
        yield "never"  # pragma: no cover - nothing sets the event

    @strawberry.subscription(extensions=gated(IsOwnerOrHasRole(ADMIN, on_list="refuse")))
    async def project_handover(self, info: Info) -> AsyncGenerator[Project, None]:
        """The caller's project, then another user's: that event is FORBIDDEN (not an admin)."""
        for owner in (info.context.identity.user_id, str(uuid.uuid4())):
            yield Project(id=strawberry.ID(str(uuid.uuid4())), owner_id=strawberry.ID(owner),
                          name="handover", created_at=datetime(2026, 1, 1))  # fmt: skip

    @strawberry.subscription(extensions=gated(IsAuthenticated()))
    async def project_failure(self, info: Info) -> AsyncGenerator[str, None]:
        """One event, then a failure no permission explains (its message is internal)."""
        yield "first"
        raise RuntimeError("the stream broke: internal detail")
