"""`POST /oauth/introspect` (RFC 7662): whether a token is live, for services that must
feel revocation at once (contract section 9).

The caller is a service holding an API token with the `tokens:introspect` scope, a scope
only an administrator's token may carry, checked against the owner's roles on every call
(services/credentials.py `check_introspector`). The token asked about goes through the
same `Authenticator` as a request to /graphql (`identify_token`: the same strategies,
identity cache and revocation checks), so an answer is never staler than /graphql's.

Every token that is not live (unknown, revoked, expired, malformed, a refresh token, a
session id) answers the same bytes, `{"active": false}`, after the same kind of work
(a cache or database lookup of its digest or family): the answer tells nothing about
why. Each call counts against the caller's `INTROSPECT_LIMIT`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from auth.authenticate import Authenticator
from auth.identity import Identity, Scheme
from auth.ratelimit import LoginLimiter
from auth.strategy.jwt import HASURA_CLAIMS, InvalidAccessToken, JWTStrategy, hasura_claims
from auth.transport.header import read_authorization
from core.errors import BadRequest, Unauthenticated
from core.scope import client_of, connection_of
from core.settings import Settings
from services.credentials import INTROSPECT_SCOPE, check_introspector
from web.errors import NO_STORE, oauth_error_response

FORM = "application/x-www-form-urlencoded"
# A token is at most 8 KB (auth/transport/header.py, auth/strategy/jwt.py); the form
# holds it, a hint and their names.
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 8
INACTIVE = orjson.dumps({"active": False})
# Claims of a verified access token that are the server's business, not the caller's.
_HIDDEN_CLAIMS = frozenset({"typ"})


class IntrospectionEndpoint:
    """The ASGI endpoint of `POST /oauth/introspect`."""

    def __init__(
        self, settings: Settings, authenticator: Authenticator, limiter: LoginLimiter, jwt: JWTStrategy
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.limiter = limiter
        self.jwt = jwt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        presented_as: str | None = None
        try:
            if scope["method"] != "POST":
                raise BadRequest("Introspection takes POST only.", status=405, headers={"Allow": "POST"})
            presented_as = _scheme_of(scope)
            caller = await self._caller(scope)
            check_introspector(caller)
            assert caller.credential_id is not None  # an API token always has its row
            await self.limiter.introspect_attempt(caller.credential_id)
            token = await self._token(scope, receive)
            body = await self._answer(token, scope)
        except Exception as exc:  # noqa: BLE001 - the error exit answers every kind
            response = oauth_error_response(exc, presented_as, INTROSPECT_SCOPE)
        else:
            response = Response(body, media_type="application/json", headers=NO_STORE)
        await response(scope, receive, send)

    async def _caller(self, scope: Scope) -> Identity:
        """Who is asking: only the `Authorization` header counts (a browser's cookie never
        makes a service, and so the endpoint has nothing a forged request could use)."""
        if _scheme_of(scope) is None:
            raise Unauthenticated(f"Introspection needs an API token with the {INTROSPECT_SCOPE} scope.")
        resolution = await self.authenticator.authenticate(
            connection_of(scope), client_of(scope, self.settings)
        )
        return resolution.identity

    async def _token(self, scope: Scope, receive: Receive) -> str:
        """The `token` of the form body (`BadRequest` for anything else)."""
        content_type = connection_of(scope).headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != FORM:
            raise BadRequest(f"The body must be {FORM} with a `token` field.")
        body = await _read_body(receive)
        try:
            fields = parse_qsl(
                body.decode("utf-8"), strict_parsing=bool(body), max_num_fields=MAX_FORM_FIELDS
            )
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("The body is not a readable form (UTF-8, name=value pairs).") from None
        tokens = [value for name, value in fields if name == "token"]
        if len(tokens) != 1 or not tokens[0]:
            raise BadRequest("Send exactly one non-empty `token` field.")
        if [name for name, _ in fields].count("token_type_hint") > 1:
            raise BadRequest("Send `token_type_hint` at most once.")
        # `token_type_hint` is allowed and ignored (RFC 7662 section 2.1): every kind is
        # looked up the one way, so a wrong hint changes nothing.
        return tokens[0]

    async def _answer(self, token: str, scope: Scope) -> bytes:
        """The JSON answer for `token`: its claims when live, else `{"active": false}`."""
        identity = await self.authenticator.identify_token(token, client_of(scope, self.settings))
        if identity is None or identity.user is None:
            return INACTIVE
        user = identity.user
        answer: dict[str, Any] = {"active": True}
        if identity.scheme is Scheme.JWT:
            try:
                claims = self.jwt.verify(token).claims  # remembered since identify_token
            except InvalidAccessToken:  # expired in between
                return INACTIVE
            answer.update((k, v) for k, v in claims.items() if k not in _HIDDEN_CLAIMS)
            answer["token_type"] = "access_token"
        else:
            answer["iss"] = self.settings.jwt_issuer
            answer["scope"] = " ".join(sorted(identity.scopes or ()))
            if identity.expires_at is not None:
                answer["exp"] = int(identity.expires_at.timestamp())
            answer["token_type"] = "api_token"
        answer["sub"] = str(user.id)
        answer["username"] = user.username
        # Roles as they are now: a role withdrawn after the token was issued is gone here,
        # and from the Hasura object a token issued under HASURA_CLAIMS=on carries, which
        # is made again from them (the token's own copy holds the roles of its issue).
        answer["roles"] = sorted(identity.roles)
        if HASURA_CLAIMS in answer:
            answer[HASURA_CLAIMS] = hasura_claims(answer["sub"], answer["roles"])
        answer["credential_kind"] = identity.credential_kind
        answer["credential_id"] = identity.credential_id
        if identity.auth_time is not None:
            answer["auth_time"] = int(identity.auth_time.timestamp())
        if identity.amr:
            answer["amr"] = list(identity.amr)
        return orjson.dumps(answer)


def _scheme_of(scope: Scope) -> str | None:
    """The scheme the caller's `Authorization` header names ("Bearer", "Token", "Basic"),
    `None` without one; a malformed header raises `CredentialRejected`."""
    header = read_authorization(connection_of(scope).headers.get("authorization"))
    return None if header is None else header.scheme


async def _read_body(receive: Receive) -> bytes:
    """The request body, refused (`BadRequest`) as soon as it passes `MAX_FORM_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("The client went away before sending the body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise BadRequest(f"The body is over {MAX_FORM_BYTES} bytes; a token is at most 8 KB.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
