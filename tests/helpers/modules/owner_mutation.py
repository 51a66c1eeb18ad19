"""A module whose mutations carry `IsOwnerOrHasRole`: `renameThing` without saying its
resolver judges the object before the write (start-up refuses it), `archiveThing`
declared `judged_before_write=True` (served)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.permissions import IsAuthenticated, IsOwnerOrHasRole, gated, identity_of

BEFORE_WRITE = IsOwnerOrHasRole("admin", judged_before_write=True)


@strawberry.type
class Thing:
    id: strawberry.ID
    owner_id: strawberry.Private[str]


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=gated(IsAuthenticated(), IsOwnerOrHasRole("admin")))
    def rename_thing(self, id: strawberry.ID) -> Thing:
        return Thing(id=id, owner_id="someone")  # the write would be done by now

    @strawberry.mutation(extensions=gated(IsAuthenticated(), BEFORE_WRITE))
    def archive_thing(self, info: Info, id: strawberry.ID) -> Thing:
        thing = Thing(id=id, owner_id="someone")
        BEFORE_WRITE.judge(identity_of(info), thing, is_list=False)
        return thing
