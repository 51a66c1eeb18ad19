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

import logging
import re
from collections.abc import Iterable

from starlette.types import Receive, Scope, Send

from auth.middleware import OnError, identity_of
from core.errors import BadRequest, Forbidden, Unauthenticated
from web.errors import NO_STORE

# Sent as `X-Auth-Scopes` for a credential that carries all of its user's rights
# (session, access JWT, Basic); an API token sends its own scopes, possibly none.
ALL_SCOPES = "*"
_FIXED_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in NO_STORE.items()]
_METHODS = frozenset({"GET", "HEAD"})
# One item of `X-Auth-Roles` / `X-Auth-Scopes`: visible ASCII but the list's comma. Roles
# are ASCII `[A-Za-z0-9_-]` since grantRole says so, but a row written before that (or by
# hand) may hold "管理": such an item is left out of the list (a proxy could not match it
# anyway, and leaving out a grant never gives more) instead of failing the whole check.
_LIST_ITEM = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
# A whole header value: visible ASCII and spaces (RFC 9110 field-value, without obs-text).
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
logger = logging.getLogger("gatehouse.forward_auth")


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
        user_id, username = str(user.id), user.username
        if not (_HEADER_VALUE.fullmatch(user_id) and _HEADER_VALUE.fullmatch(username)):
            # Registration allows ASCII names only; a row that is not cannot be named to
            # the proxy, and a check that names nobody must not pass.
            logger.warning("forward auth refused: user %s has a name no header can carry", user_id)
            await self._refuse(Forbidden("This account cannot be named in a header."), scope, receive, send)
            return
        scopes = ALL_SCOPES if identity.scopes is None else _header_list(identity.scopes, user_id, "scope")
        headers = [
            *_FIXED_HEADERS,
            (b"x-auth-user-id", user_id.encode("ascii")),
            (b"x-auth-username", username.encode("ascii")),
            (b"x-auth-roles", _header_list(identity.roles, user_id, "role").encode("ascii")),
            (b"x-auth-scopes", scopes.encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, exc: BaseException, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.refuse(exc, scope)
        await response(scope, receive, send)


def _header_list(items: Iterable[str], user_id: str, kind: str) -> str:
    """`items` sorted and comma-separated, without those no header can carry (logged)."""
    unique = set(items)
    sendable = sorted(item for item in unique if _LIST_ITEM.fullmatch(item))
    if len(sendable) != len(unique):
        logger.warning("forward auth: user %s has a %s no header can carry; it is left out", user_id, kind)
    return ",".join(sendable)
