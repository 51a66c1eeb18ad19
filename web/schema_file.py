"""`GET /graphql/schema.graphql`: the SDL with its directives (contract section 7).

Who may read it:

- the full schema (`/graphql/schema.graphql`): in development anyone; in production only
  an admin whose credential may read users (`users:read`, as `Query.users` asks);
- the caller's own schema (`?viewer=me`): anyone, in development and production alike;
  an anonymous caller gets the public fields only (contract section 7).

`?viewer=me` answers the schema reduced to the fields the caller's credential could use
(schema/viewer.py): it tells a caller only what they may already do, so production
serves it to every caller, including an API token without scopes (which sees the public
fields and those needing only a signed-in user) and an anonymous caller (the public
fields: `me`, `viewer`, `register`, `login`, `refreshToken`, which any client learns by
calling them). The full schema and introspection stay closed in production.
`SCHEMA_ENDPOINT=off` serves neither (the route is not mounted: 404). Any other
parameter, or another value of `viewer`, is a 400.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.schema.base import BaseSchema

from auth.identity import Identity
from auth.middleware import identity_of
from core.errors import BadRequest, Forbidden, Unauthenticated
from core.media import APPLICATION_JSON
from core.settings import Settings
from schema.viewer import ViewerSchemas, viewer_schemas
from web.errors import NO_STORE, error_response

ADMIN_ROLE = "admin"
READ_SCOPE = "users:read"
SDL_TYPE = "text/plain; charset=utf-8"
VIEWER_ME = [("viewer", "me")]


class SchemaFile:
    """Answers the schema's SDL, printed once at start-up, and each caller's own schema."""

    def __init__(self, schema: BaseSchema, settings: Settings) -> None:
        self.body = schema.as_str().encode("utf-8")
        # Made now: a schema whose anonymous Query would be empty stops start-up here.
        self.viewers: ViewerSchemas = viewer_schemas(schema)
        self.settings = settings

    def _refusal(self, scope: Scope, identity: Identity, viewer_me: bool) -> Exception | None:
        if scope["method"] not in ("GET", "HEAD"):
            return BadRequest("The schema is read with GET.", 405, {"Allow": "GET"})
        if scope["query_string"] and not viewer_me:
            return BadRequest("The only parameter taken is viewer=me (your own schema).")
        if viewer_me or not self.settings.production:
            return None
        if not identity.is_authenticated:
            return Unauthenticated("Authentication required.")
        if not (identity.has_role(ADMIN_ROLE) and identity.has_scope(READ_SCOPE)):
            return Forbidden("Only an admin may read the schema in production; ?viewer=me shows your own.")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        identity = identity_of(scope)
        query = scope["query_string"].decode("latin-1")
        viewer_me = parse_qsl(query, keep_blank_values=True) == VIEWER_ME
        refusal = self._refusal(scope, identity, viewer_me)
        if refusal is not None:
            response = error_response(refusal, APPLICATION_JSON, identity.presented_as)
        elif viewer_me:
            body = (await self.viewers.view_async(identity)).sdl.encode("utf-8")
            response = Response(body, media_type=SDL_TYPE, headers=NO_STORE)
        else:
            response = Response(self.body, media_type=SDL_TYPE, headers=NO_STORE)
        await response(scope, receive, send)
