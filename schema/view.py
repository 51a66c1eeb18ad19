"""The HTTP face of the schema.

In front of Strawberry: the body-size limit, the JSON-only and CSRF checks, and
authentication, all answered as GraphQL JSON with the contract's status codes.
After execution: the status code and headers that depend on the result (401 with
`WWW-Authenticate`, 403, 429 with `Retry-After`, 500) and `Cache-Control: no-store`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
from cross_web import HTTPException as StrawberryHTTPException
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http import process_result as strawberry_process_result
from strawberry.types import ExecutionResult

from auth.authenticate import resolve_identity
from auth.backend import AuthBackend
from auth.errors import CredentialRejected
from auth.identity import Identity
from auth.transport.cookie import clear_session_cookie
from auth.transport.header import CHALLENGES, PLAIN_CHALLENGE
from core.client import ClientInfo, client_info
from core.errors import (
    INTERNAL_MESSAGE,
    STATUS_BY_CODE,
    UNAVAILABLE_MESSAGE,
    BadUserInput,
    ErrorCode,
    Forbidden,
    GatehouseError,
    InternalError,
    RateLimited,
    ServiceUnavailable,
    error_body,
)
from core.settings import Settings
from schema.context import Context, CookieChange
from auth.transport.cookie import write_session_cookie
from schema.errors import classify, is_unavailable
from schema.fast_path import FastExecutor, FastRequest, read_plain_request
from schema.graphiql import graphiql_response
from schema.input_limits import TOO_DEEP, NestedTooDeep, check_body

logger = logging.getLogger("gatehouse.http")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_NO_STORE_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in NO_STORE.items()]
_JSON_TYPE = (b"content-type", b"application/json")


class IndexedHeaders(Headers):
    """Starlette's request headers, looked up through a dict built once.

    A request's headers are read a dozen times (content type, CSRF, credentials, proxy
    headers); Starlette's `Headers` scans and decodes the whole list on each lookup.
    Like `Headers.__getitem__`, the first of repeated headers wins.
    """

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        self._index: dict[bytes, bytes] = {}
        for key, value in reversed(self._list):
            self._index[key] = value

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower().encode("latin-1")].decode("latin-1")

    def get(self, key: str, default: Any = None) -> Any:
        value = self._index.get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower().encode("latin-1") in self._index


class AssembledResponse(Response):
    """A JSON response whose status and raw headers the fast path put together itself."""

    def __init__(self, body: bytes, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.body = body
        self.status_code = status
        self.raw_headers = raw_headers
        self.background = None


class BodyTooLarge(GatehouseError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class RefusedBody(StrawberryHTTPException):
    """A body Strawberry's path refuses while reading it, with the fields at fault."""

    def __init__(self, error: BadUserInput) -> None:
        super().__init__(_refusal_status(error), error.message)
        self.error = error


def _refusal_status(error: BadUserInput) -> int:
    """400 for a request nested too deep to read; 200 for a wrong value (section 5), as
    graphql-core answers a variable that fails to coerce."""
    return 400 if isinstance(error, NestedTooDeep) else 200


def _error_response(error: GatehouseError, status: int, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_body(error), status_code=status, headers={**NO_STORE, **(headers or {})})


def result_status(response_data: Any, identity: Identity) -> tuple[int, dict[str, str]]:
    """The status of a GraphQL answer and the headers that status calls for."""
    status = status_for(response_data)
    if status == 401:
        return status, {"WWW-Authenticate": CHALLENGES.get(identity.presented_as or "", PLAIN_CHALLENGE)}
    if status == 429:
        errors: Any = response_data.get("errors") or []
        retry = max(int((e.get("extensions") or {}).get("retryAfter") or 1) for e in errors)
        return status, {"Retry-After": str(retry)}
    return status, {}


def status_for(response_data: Any) -> int:
    """The contract's status: 200 when data came back, else the most severe error code's."""
    errors = response_data.get("errors") or []
    data = response_data.get("data")
    if not errors or (isinstance(data, dict) and any(v is not None for v in data.values())):
        return 200
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    for code, status in STATUS_BY_CODE.items():
        if code in codes:
            return status
    return 200


def _sets_cookie(response: Response, name: str) -> bool:
    return any(v.startswith(f"{name}=") for v in response.headers.getlist("set-cookie"))


def _same_origin(request: Request, client: ClientInfo | None) -> str:
    # The scheme the client used: behind a trusted proxy, its `X-Forwarded-Proto`
    # (core/client.py; the server itself reads no proxy headers, see main.py).
    scheme = request.url.scheme if client is None else ("https" if client.is_https else "http")
    host = request.headers.get("host", "")
    return f"{scheme}://{host}".lower()


class GatehouseGraphQL(GraphQL):
    """Strawberry's ASGI view with Gatehouse's checks around it."""

    def __init__(self, schema: Any, settings: Settings, backend: AuthBackend) -> None:
        super().__init__(
            schema,
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )
        self.settings = settings
        self.backend = backend
        self.fast = FastExecutor(schema, schema.guard_rules, schema.max_tokens)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL with its assets served by this app, not a CDN (`schema/graphiql.py`)."""
        return graphiql_response()

    # -- before execution ------------------------------------------------------------

    def csrf_problem(self, request: Request, client: ClientInfo | None = None) -> str | None:
        """Why a browser request must be refused, or `None`.

        Requests authenticated by a Bearer or Token header cannot be forged by another
        site, so only cookie, Basic and credential-less requests (login, register) are
        checked: a cross-site `Sec-Fetch-Site` or a foreign `Origin` is refused. `client`
        says whether the request came over HTTPS.
        """
        authorization = request.headers.get("authorization", "").lower()
        if authorization.startswith(("bearer ", "token ")):
            return None
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            return "Cross-site requests are not allowed."
        origin = request.headers.get("origin")
        if origin is None:
            return None
        origin = origin.rstrip("/").lower()
        allowed = {o.lower() for o in self.settings.allowed_origins}
        if origin == _same_origin(request, client) or origin in allowed:
            return None
        return "This origin is not allowed."

    async def _read_limited_body(self, request: Request) -> None:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            raise BodyTooLarge(f"The request body exceeds {self.settings.max_body_bytes} bytes.")
        chunks: list[bytes] = []
        size = 0
        # Read from `receive` as `Request.stream()` does, without an async generator.
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                raise BodyTooLarge(f"The request body exceeds {self.settings.max_body_bytes} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        request._body = b"".join(chunks)  # Starlette reads `_body` from here on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        request._headers = IndexedHeaders(scope)  # read by `request.headers` from here on
        try:
            response = await self.handle(request)
        except RecursionError:
            # The input bounds (schema/input_limits.py) should make this unreachable; if
            # not, a JSON 500 and one log line, not a traceback of a thousand frames.
            logger.error("recursion limit reached while handling a request")
            response = _error_response(InternalError(INTERNAL_MESSAGE), 500)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        """Check, authenticate, execute; every rejection is GraphQL JSON."""
        if request.method == "GET":
            if self.graphql_ide and "text/html" in request.headers.get("accept", ""):
                return await self.render_graphql_ide(request)
            return _error_response(
                BadUserInput({}, "Send GraphQL operations as POST with a JSON body."),
                405,
                {"Allow": "POST"},
            )
        if request.method != "POST":
            return _error_response(BadUserInput({}, "Only POST is supported."), 405, {"Allow": "POST"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error_response(
                BadUserInput({}, "The body must be JSON (Content-Type: application/json)."), 415
            )
        client = client_info(request, self.settings)
        if problem := self.csrf_problem(request, client):
            return _error_response(Forbidden(problem), 403)
        try:
            await self._read_limited_body(request)
        except BodyTooLarge as exc:
            return _error_response(exc, 413)
        try:
            # No `asyncio.timeout` here (6 µs a request): the drivers bound every wait,
            # asyncpg and Redis with DB_TIMEOUT (core/db.py, core/redis_client.py).
            resolution = await resolve_identity(request, self.backend, client)
        except CredentialRejected as exc:
            return _error_response(exc, 401, {"WWW-Authenticate": CHALLENGES[exc.scheme]})
        except RateLimited as exc:
            # Too many Basic password attempts: refused before anything executes.
            return _error_response(exc, 429, {"Retry-After": str(exc.retry_after)})
        except ServiceUnavailable as exc:
            return _error_response(exc, 503, {"Retry-After": "5"})
        except RecursionError:
            raise  # answered in `__call__` without a traceback
        except Exception as exc:
            if not is_unavailable(exc):
                logger.exception("unexpected error during authentication")
                return _error_response(InternalError(INTERNAL_MESSAGE), 500)
            logger.error("backing service unavailable during authentication: %s", type(exc).__name__)
            return _error_response(ServiceUnavailable(UNAVAILABLE_MESSAGE), 503, {"Retry-After": "5"})
        try:
            plain = read_plain_request(await request.body())
        except BadUserInput as exc:  # variables too deep or holding unsafe text
            return _error_response(exc, _refusal_status(exc))
        if plain is not None:
            response = await self._run_plain(request, plain, resolution.identity, client)
        else:
            request.state.resolution = resolution
            request.state.client = client
            try:
                response = await self.run(request)
            except RefusedBody as exc:
                response = _error_response(exc.error, exc.status_code)
            except StrawberryHTTPException as exc:
                response = _error_response(BadUserInput({}, exc.reason), exc.status_code)
            response.headers.update(NO_STORE)
        if resolution.clear_cookie and not _sets_cookie(response, self.settings.session_cookie_name):
            clear_session_cookie(response, self.settings)
        return response

    async def _run_plain(
        self, request: Request, plain: FastRequest, identity: Identity, client: ClientInfo
    ) -> Response:
        """The fast path: the same context and answer as Strawberry's path, without its
        per-request machinery, in one response put together here."""
        context = Context(request=request, identity=identity, backend=self.backend, client=client)
        result = await self.fast.execute(plain, context)
        data = strawberry_process_result(result)
        status, headers = result_status(data, identity)
        body = orjson.dumps(data)
        raw = [_JSON_TYPE, (b"content-length", str(len(body)).encode()), *_NO_STORE_RAW]
        if context.cookie_change is not None:
            carrier = Response()
            self._write_cookie(carrier, context)
            raw.extend(h for h in carrier.raw_headers if h[0] == b"set-cookie")
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
        return AssembledResponse(body, status, raw)

    def _write_cookie(self, response: Response, context: Context) -> None:
        if context.cookie_change is CookieChange.SET and context.new_session_id:
            write_session_cookie(response, self.settings, context.new_session_id)
        elif context.cookie_change is CookieChange.CLEAR:
            clear_session_cookie(response, self.settings)

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        context = Context(
            request=request,
            identity=request.state.resolution.identity,
            backend=self.backend,
            client=request.state.client,
        )
        request.state.context = context
        return context

    # -- after execution -------------------------------------------------------------

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            # A syntax error raised by the parser cache skips the operation hooks, and with
            # them `ErrorCodes`: every error still leaves with a code.
            result.errors = [e if (e.extensions or {}).get("code") else classify(e) for e in result.errors]
        data = await super().process_result(request, result)
        status, headers = result_status(data, request.state.resolution.identity)
        sub_response: Response = request.state.sub_response
        self._write_cookie(sub_response, request.state.context)
        if status == 200:
            return data
        sub_response.status_code = status
        sub_response.headers.update(headers)
        return data

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = Response()
        sub_response.status_code = None  # type: ignore[assignment]
        del sub_response.headers["content-length"]
        request.state.sub_response = sub_response
        return sub_response

    def encode_json(self, data: object) -> str:
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        """Parse the body; anything but a JSON object (or an array, which Strawberry
        refuses as batching) is the client's error, never a 500."""
        try:
            # Strictly UTF-8 (RFC 8259): `json.loads` would read encoded surrogates from bytes.
            parsed = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except RecursionError:  # deeply nested arrays fit in a small body
            raise RefusedBody(NestedTooDeep({"body": TOO_DEEP})) from None
        except UnicodeDecodeError:  # Strawberry only catches JSONDecodeError
            raise StrawberryHTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(parsed, (dict, list)):
            raise StrawberryHTTPException(400, "The body must be a JSON object.")
        try:
            # `json` reads unpaired surrogates that orjson refused: the whole body is walked.
            check_body(parsed)
        except BadUserInput as exc:
            raise RefusedBody(exc) from None
        return parsed
