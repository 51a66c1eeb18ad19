"""`GET /graphql/schema.graphql`: the SDL with its directives (contract section 7).

Development serves it to anyone; production only to an admin whose credential may read
users (`users:read`, as `Query.users` asks), and `SCHEMA_ENDPOINT=off` not at all.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from auth.middleware import identity_of
from core.errors import BadRequest, Forbidden, Unauthenticated
from core.media import APPLICATION_JSON
from core.settings import Settings
from web.errors import NO_STORE, error_response

ADMIN_ROLE = "admin"
READ_SCOPE = "users:read"
SDL_TYPE = "text/plain; charset=utf-8"


class SchemaFile:
    """Answers the schema's SDL, printed once at start-up."""

    def __init__(self, sdl: str, settings: Settings) -> None:
        self.body = sdl.encode("utf-8")
        self.settings = settings

    def _refusal(self, scope: Scope) -> Exception | None:
        if scope["method"] not in ("GET", "HEAD"):
            return BadRequest("The schema is read with GET.", 405, {"Allow": "GET"})
        if scope["query_string"]:
            # `?viewer=me` (the schema reduced to the caller's rights) is not served yet.
            return BadRequest("This endpoint takes no parameters yet.")
        if not self.settings.production:
            return None
        identity = identity_of(scope)
        if not identity.is_authenticated:
            return Unauthenticated("Authentication required.")
        if not (identity.has_role(ADMIN_ROLE) and identity.has_scope(READ_SCOPE)):
            return Forbidden("Only an admin may read the schema in production.")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope)
        if refusal is not None:
            response = error_response(refusal, APPLICATION_JSON, identity_of(scope).presented_as)
        else:
            response = Response(self.body, media_type=SDL_TYPE, headers=NO_STORE)
        await response(scope, receive, send)
