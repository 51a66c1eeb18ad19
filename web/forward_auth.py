"""`GET /auth/verify`: forward authentication for a reverse proxy (nginx `auth_request`,
Traefik ForwardAuth), contract section 9.

Mounted behind `AuthenticationMiddleware`, like /graphql, so every scheme (session
cookie, access JWT, API token, Basic) and every revocation count the same: the
middleware puts the identity in the scope (a wrong header credential is answered there,
401 with its challenge) and this endpoint only reports it. A signed-in request gets 204
with `X-Auth-User-Id`, `X-Auth-Username`, `X-Auth-Roles` and `X-Auth-Scopes`; anyone
else 401 with `WWW-Authenticate: Bearer realm="gatehouse"`. No GraphQL, no body, no
database beyond what authentication itself reads.

The check has no side effects and its answer goes to the proxy, not to a page, so no
origin check applies here: the protected application keeps its own CSRF rules for the
methods that change something (the original method arrives as `X-Forwarded-Method`
from Traefik, or in whatever header the nginx configuration sets; see docs/TOKENS.md).
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from auth.middleware import OnError, identity_of
from core.errors import BadRequest, Unauthenticated
from web.errors import NO_STORE

# Sent as `X-Auth-Scopes` for a credential that carries all of its user's rights
# (session, access JWT, Basic); an API token sends its own scopes, possibly none.
ALL_SCOPES = "*"
_FIXED_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in NO_STORE.items()]
_METHODS = frozenset({"GET", "HEAD"})


class ForwardAuthEndpoint:
    """The ASGI endpoint of `GET /auth/verify`; `refuse` answers a refusal (the app's
    error exit, as for /graphql)."""

    def __init__(self, refuse: OnError) -> None:
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in _METHODS:
            refusal = BadRequest(
                "Forward authentication takes GET.", status=405, headers={"Allow": "GET, HEAD"}
            )
            await self._refuse(refusal, scope, receive, send)
            return
        identity = identity_of(scope)
        user = identity.user
        if user is None:
            await self._refuse(Unauthenticated("Sign in first."), scope, receive, send)
            return
        scopes = ALL_SCOPES if identity.scopes is None else ",".join(sorted(identity.scopes))
        headers = [
            *_FIXED_HEADERS,
            (b"x-auth-user-id", str(user.id).encode("latin-1")),
            (b"x-auth-username", user.username.encode("latin-1")),
            (b"x-auth-roles", ",".join(sorted(identity.roles)).encode("latin-1")),
            (b"x-auth-scopes", scopes.encode("latin-1")),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, exc: BaseException, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.refuse(exc, scope)
        await response(scope, receive, send)
