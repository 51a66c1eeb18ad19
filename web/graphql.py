"""GraphQL over HTTP (contract section 6): one pipeline for every request.

By the time a request gets here the middleware has bounded its body, checked its
origin and put its identity in the scope. The view reads the GraphQL parameters (a
JSON body over POST, the query string over GET), resolves persisted queries, prepares
the document (parse and validate, cached), chooses the operation, and hands it to the
engine; then it answers in the media type the client accepts, with the status the
result calls for, and writes the session cookie the operation asked for.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import orjson
from graphql import OperationType
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from auth.backend import AuthBackend
from auth.middleware import identity_of
from auth.transport.cookie import flow_cookie_headers, session_cookie_headers
from auth.transport.header import CHALLENGES, PLAIN_CHALLENGE
from core.errors import BadRequest, BadUserInput
from core.media import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, MediaType, negotiate, prefers_html
from core.scope import client_of, connection_of
from core.settings import Settings
from schema.context import Context, CookieChange
from schema.engine import Engine, Phase, Prepared
from schema.graphiql import graphiql_response
from schema.input_limits import TOO_DEEP, UNSAFE_TEXT, NestedTooDeep, check_body, check_variables, unsafe_text
from web.errors import NO_STORE, code_error, error_response, retry_after, status_of
from web.metrics import note_operation
from web.persisted import PersistedQueries
from web.subscriptions import serve_socket

PLAIN_KEYS = frozenset({"query", "variables", "operationName", "extensions"})
ALLOWED_METHODS = "GET, POST"
_NO_STORE_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in NO_STORE.items()]
_CONTENT_TYPE_RAW = {
    media: (b"content-type", media.content_type.encode("latin-1"))
    for media in (APPLICATION_JSON, GRAPHQL_RESPONSE_JSON)
}


class GraphQLParams(NamedTuple):
    """The parameters of one GraphQL-over-HTTP request."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


class AssembledResponse(Response):
    """A response whose body, status and raw headers the view put together itself."""

    def __init__(self, body: bytes, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.body = body
        self.status_code = status
        self.raw_headers = raw_headers
        self.background = None


def _read_json(body: bytes) -> Any:
    """The parsed body: orjson first, Python's strict reader for what orjson refuses
    (nesting past 1024, which the depth bound reports) or reads inexactly."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body.decode("utf-8"))
    except RecursionError:  # deeply nested arrays fit in a small body
        if body.lstrip()[:1] != b"{":  # not an object at all: not a GraphQL request
            raise BadRequest("The body must be a JSON object with a `query`.") from None
        raise NestedTooDeep({"body": TOO_DEEP}) from None
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The body is not readable JSON (UTF-8).") from None


def _params(payload: Any, exact: bytes | None = None) -> GraphQLParams:
    """Check a request's parameters; `exact` is the raw body, read again by Python's
    reader when orjson turned an integer past 64 bits into a float."""
    if isinstance(payload, list):
        raise BadRequest("Batched operations are not supported: send one operation per request.")
    if not isinstance(payload, dict):
        raise BadRequest("The body must be a JSON object with a `query`.")
    if not PLAIN_KEYS.issuperset(payload) or payload.get("extensions") is not None:
        check_body(payload)  # every member: too deep, or unsafe text
    query, variables = payload.get("query"), payload.get("variables")
    name, extensions = payload.get("operationName"), payload.get("extensions")
    if query is not None and not isinstance(query, str):
        raise BadRequest("`query` must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be an object.")
    if name is not None and not isinstance(name, str):
        raise BadRequest("`operationName` must be a string.")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest("`extensions` must be an object.")
    if name and unsafe_text(name):
        raise BadUserInput({"operationName": UNSAFE_TEXT})
    if variables and check_variables(variables) and exact is not None:
        # orjson reads integers beyond 64 bits as floats; the schema has no Float
        # argument, so a float can only be such an integer: read them exactly.
        variables = json.loads(exact.decode("utf-8")).get("variables")
    return GraphQLParams(query, variables, name or None, extensions)


def _asks_query(scope: Scope) -> bool:
    """Whether a GET carries GraphQL parameters (then a browser asked for a result)."""
    names = {name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)}
    return bool(names & {"query", "extensions"})


def _json_parameter(value: str | None, name: str) -> Any:
    if value is None or value == "":
        return None
    try:
        return json.loads(value)
    except RecursionError:
        raise NestedTooDeep({name: TOO_DEEP}) from None
    except ValueError:
        raise BadRequest(f"`{name}` must be JSON in the query string.") from None


class GraphQLView:
    """The `/graphql` endpoint, as a plain ASGI app."""

    def __init__(
        self,
        settings: Settings,
        backend: AuthBackend,
        engine: Engine,
        persisted: PersistedQueries,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.engine = engine
        self.persisted = persisted
        self.ide = not settings.production
        self.hide_suggestions = settings.production
        # METRICS=on: the request's metrics are labelled with the operation's root field.
        self.counts_operations = settings.metrics
        # graphql-transport-ws on the same path once the schema has a Subscription root.
        self.serves_subscriptions = engine.graphql_schema.subscription_type is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if self.serves_subscriptions:
                await serve_socket(
                    self.settings, self.backend, self.engine, self.persisted, scope, receive, send
                )
            else:
                # No subscription in the schema (no module brings one): close once authenticated.
                close = WebSocketClose(code=1000, reason="No subscriptions are served yet.")
                await close(scope, receive, send)
            return
        response = await self.handle(scope, receive)
        await response(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive) -> Response:
        """Read, prepare, execute and answer one request; every refusal is GraphQL JSON."""
        headers = connection_of(scope).headers
        method = scope["method"]
        accept = headers.get("accept")
        if method == "OPTIONS":
            # A preflight the origin check let through (same origin, or none) that CORS did
            # not answer: no CORS headers, so a browser sends nothing cross-origin.
            return Response(status_code=204, headers={"Allow": ALLOWED_METHODS, **NO_STORE})
        if method == "GET" and self.ide and accept and prefers_html(accept) and not _asks_query(scope):
            return graphiql_response()
        media = negotiate(accept)
        presented_as = identity_of(scope).presented_as
        if media is None:
            return error_response(
                BadRequest(
                    "Accept application/graphql-response+json or application/json.", status=406
                ),
                APPLICATION_JSON,
            )
        try:
            params = await self._read(method, scope, receive, headers)
            prepared = await self.persisted.prepare(self.engine, params.query, params.extensions)
            return await self._execute(scope, method, media, params, prepared)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read an answer
        except Exception as exc:  # noqa: BLE001 - the one error exit answers every kind
            return error_response(exc, media, presented_as)

    async def _read(self, method: str, scope: Scope, receive: Receive, headers: Any) -> GraphQLParams:
        if method == "GET":
            values = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
            payload = {
                "query": values.get("query") or None,
                "variables": _json_parameter(values.get("variables"), "variables"),
                "operationName": values.get("operationName") or None,
                "extensions": _json_parameter(values.get("extensions"), "extensions"),
            }
            check_body(payload)
            return _params(payload)
        if method != "POST":
            raise BadRequest("Send GraphQL requests as GET or POST.", 405, {"Allow": ALLOWED_METHODS})
        content_type, _, parameters = headers.get("content-type", "").partition(";")
        charset = parameters.partition("charset=")[2].strip().strip('"').lower()
        if content_type.strip().lower() != "application/json" or charset not in ("", "utf-8", "utf8"):
            raise BadRequest("The body must be JSON (Content-Type: application/json).", 415)
        body = await _read_body(receive)
        if not body:
            raise BadRequest("The request has no body: send a JSON object with a `query`.")
        return _params(_read_json(body), body)

    async def _execute(
        self,
        scope: Scope,
        method: str,
        media: MediaType,
        params: GraphQLParams,
        prepared: Prepared,
    ) -> Response:
        if prepared.errors:
            assert prepared.phase is not None
            return self._answer(scope, media, None, list(prepared.errors), prepared.phase, None)
        operation = prepared.operations.get(params.operation_name)
        if operation is None:
            if params.operation_name is None:
                raise BadRequest("The document holds several operations: name one in `operationName`.")
            raise BadRequest("The document holds no operation of that `operationName`.")
        if self.counts_operations:
            note_operation(scope, operation)
        if operation.operation is not OperationType.QUERY:
            if method == "GET":
                raise BadRequest("Only queries run over GET; send mutations as POST.", 405, {"Allow": "POST"})
            if operation.operation is OperationType.SUBSCRIPTION:
                raise BadRequest("Subscriptions are not served over HTTP.")
        context = Context(
            request=connection_of(scope),
            identity=identity_of(scope),
            backend=self.backend,
            client=client_of(scope, self.settings),
        )
        outcome = await self.engine.execute(prepared, params.operation_name, params.variables, context)
        data = outcome.data if outcome.has_data else None
        errors = list(outcome.errors)
        return self._answer(scope, media, data, errors, outcome.phase, context, outcome.has_data)

    def _answer(
        self,
        scope: Scope,
        media: MediaType,
        data: dict[str, Any] | None,
        raw_errors: list[Any],
        phase: Phase,
        context: Context | None,
        has_data: bool = False,
    ) -> Response:
        errors: list[dict[str, Any]] = [
            dict(code_error(e, phase, self.hide_suggestions).formatted) for e in raw_errors
        ]
        payload: dict[str, Any] = {"data": data} if has_data else {}
        if errors:
            payload["errors"] = errors
        status = status_of(errors, data, has_data, media)
        body = orjson.dumps(payload)
        raw = [_CONTENT_TYPE_RAW[media], (b"content-length", str(len(body)).encode()), *_NO_STORE_RAW]
        if status == 401:
            challenge = CHALLENGES.get(identity_of(scope).presented_as or "", PLAIN_CHALLENGE)
            raw.append((b"www-authenticate", challenge.encode("latin-1")))
        elif status == 429:
            raw.append((b"retry-after", retry_after(errors).encode()))
        if context is not None and context.cookie_change is not None:
            session_id = context.new_session_id if context.cookie_change is CookieChange.SET else None
            raw.extend(session_cookie_headers(self.settings, session_id))
        if context is not None and context.flow_binding is not None:
            raw.extend(flow_cookie_headers(self.settings, context.flow_binding))
        return AssembledResponse(body, status, raw)


async def _read_body(receive: Receive) -> bytes:
    """The whole body, read as `Request.body()` does (the body limit wraps `receive`)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
