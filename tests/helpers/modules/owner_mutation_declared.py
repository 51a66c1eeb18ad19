"""A module whose one mutation carries `IsOwnerOrHasRole(..., judged_before_write=True)`:
its resolver judges the object before it writes, so start-up serves it."""

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
    @strawberry.mutation(extensions=gated(IsAuthenticated(), BEFORE_WRITE))
    def archive_thing(self, info: Info, id: strawberry.ID) -> Thing:
        thing = Thing(id=id, owner_id="someone")
        BEFORE_WRITE.judge(identity_of(info), thing, is_list=False)
        return thing
