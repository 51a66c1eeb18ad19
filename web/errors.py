"""The one error exit: every error leaves through here, coded by its type and phase.

Two kinds of error reach a client. Exceptions raised before execution (a rejected
credential, a refused origin, an unreadable body) become a whole response in
`error_response`. GraphQL errors of an operation are coded in `code_error`: by the
phase that produced them (parse, validation, variable coercion, execution) and, during
execution, by the type of the exception a resolver raised (`GatehouseError` subclasses
carry their code; anything else is masked and logged). Messages are never read to
decide a code.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
import orjson
import redis.exceptions
from graphql import GraphQLError
from starlette.responses import Response
from starlette.websockets import WebSocketClose
from tortoise.exceptions import DBConnectionError

from auth.errors import CredentialRejected
from auth.transport.header import CHALLENGES, PLAIN_CHALLENGE
from core.errors import (
    INTERNAL_MESSAGE,
    UNAVAILABLE_MESSAGE,
    BadRequest,
    BadUserInput,
    ErrorCode,
    GatehouseError,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    error_body,
)
from core.media import GRAPHQL_RESPONSE_JSON, MediaType
from schema.engine import Phase
from schema.input_limits import NestedTooDeep

logger = logging.getLogger("gatehouse.errors")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
RETRY_AFTER_UNAVAILABLE = "5"  # seconds a client should wait when a backing service is down

# HTTP status when no data could be returned, by code; the first listed wins (section 5).
STATUS_BY_CODE: dict[str, int] = {
    ErrorCode.INTERNAL_SERVER_ERROR.value: 500,
    ErrorCode.SERVICE_UNAVAILABLE.value: 503,
    ErrorCode.RATE_LIMITED.value: 429,
    ErrorCode.UNAUTHENTICATED.value: 401,
    ErrorCode.FORBIDDEN.value: 403,
    ErrorCode.INSUFFICIENT_AUTH.value: 403,
    ErrorCode.EMAIL_NOT_VERIFIED.value: 403,
    ErrorCode.ACCOUNT_LINK_REQUIRED.value: 403,
    ErrorCode.PAYLOAD_TOO_LARGE.value: 413,
}

# Types that mean a backing service (database, Redis) did not answer. Tortoise raises
# `DBConnectionError` itself and wraps driver errors, keeping them as the cause.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    DBConnectionError,
    OSError,  # ConnectionError, TimeoutError and socket errors among them
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def is_unavailable(error: BaseException | None) -> bool:
    """True when `error`, or an exception it was raised from, is a backing service not answering."""
    depth = 0
    while error is not None and depth < 5:
        if isinstance(error, _UNAVAILABLE):
            return True
        error = error.__cause__ or error.__context__
        depth += 1
    return False


# -- GraphQL errors ----------------------------------------------------------------

_PHASE_CODE = {
    Phase.PARSE: ErrorCode.GRAPHQL_PARSE_FAILED,
    Phase.VALIDATION: ErrorCode.GRAPHQL_VALIDATION_FAILED,
    Phase.VARIABLES: ErrorCode.BAD_USER_INPUT,
}
# graphql-core's `did_you_mean` hint: " Did you mean 'a', 'b', or 'c'?", or "... the enum
# value 'X'?", or "... to use an inline fragment on 'T'?". Names never hold a "?".
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")
# "Variable '$input' has invalid value at .username: ..." names the field; a missing or
# unknown field is named in the reason ("... required field 'password' ..."). Read only
# to fill `extensions.fields`, never to choose the code.
_VARIABLE_PATH = re.compile(r"has invalid (?:default )?value at ([\w.\[\]]+)|at '([\w.\[\]]+)'")
_FIELD_NAMED = re.compile(r"(?:required field|unknown field) '(\w+)'")
_VARIABLE_NAME = re.compile(r"Variable '\$(\w+)'")
# graphql-core echoes the submitted value ("...value: 5", "found: {...}"), which may be
# a password sent beside the faulty field: the echo is cut from variable errors.
_ECHOED_VALUE = re.compile(r"(?:[,;.]?\s*[Ff]ound)?: .*$", re.DOTALL)


def _input_fields(message: str) -> dict[str, str]:
    named = _FIELD_NAMED.search(message)
    if named:
        return {named.group(1): message}
    path = _VARIABLE_PATH.search(message)
    if path:
        return {(path.group(1) or path.group(2)).split(".")[-1].split("[")[0]: message}
    name = _VARIABLE_NAME.search(message)
    if name:
        return {name.group(1): message}
    return {}


def _without_echoed_values(message: str) -> str:
    """A variable error's message without the submitted values it quotes."""
    if not message.startswith("Variable '$"):
        return message
    where, separator, reason = message.partition(": ")
    if not separator:
        return message
    return f"{where}: {_ECHOED_VALUE.sub('', reason).rstrip('.')}."


_QUOTED_LITERAL = re.compile(r"(?:,?\s*[Ff]ound|value): .*$", re.DOTALL)


def _literal_cut(message: str) -> str:
    cut = _QUOTED_LITERAL.sub("", message)
    return cut if cut == message else cut.rstrip(" .,;") + "."


def code_error(error: GraphQLError, phase: Phase, hide_suggestions: bool = False) -> GraphQLError:
    """`error` with its `extensions.code`: by phase before execution, by the raised type during."""
    if phase is not Phase.EXECUTION:
        if hide_suggestions and "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)
        error.message = _without_echoed_values(error.message)
        if phase is Phase.VALIDATION:
            # graphql-core quotes the literal it refused ("...found: {password: ...}",
            # "String cannot represent a non string value: S3cret"): a password typed
            # into a document must not come back in an error report.
            error.message = _literal_cut(error.message)
        code = (error.extensions or {}).get("code") or _PHASE_CODE[phase].value
        extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
        if code == ErrorCode.BAD_USER_INPUT.value and "fields" not in extensions:
            extensions["fields"] = _input_fields(error.message)
        error.extensions = extensions
        return error
    original = error.original_error
    if isinstance(original, GatehouseError):
        error.extensions = dict(original.extensions)
        return error
    if is_unavailable(original):
        logger.error("backing service unavailable: %s", type(original).__name__)
        code, message = ErrorCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE
    else:
        logger.error("unexpected error in %s", error.path, exc_info=original or error)
        code, message = ErrorCode.INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": code.value},
    )


def status_of(errors: list[dict[str, Any]], data: Any, has_data: bool, media: MediaType) -> int:
    """The HTTP status of an operation's answer (contract sections 5 and 6).

    A request that failed before execution (no `data` entry) answers 400 with
    `application/graphql-response+json` and 200 with `application/json`, unless its
    errors carry a code with a status of its own. Once executed: 200 when any data came
    back, else the most severe code's status.
    """
    if not errors:
        return 200
    if has_data and isinstance(data, dict) and any(v is not None for v in data.values()):
        return 200
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    for code, status in STATUS_BY_CODE.items():
        if code in codes:
            if has_data and media is GRAPHQL_RESPONSE_JSON:
                return status if status in _EXECUTED_STATUSES_WITH_GRAPHQL_RESPONSE else 200
            return status
    if not has_data and media is GRAPHQL_RESPONSE_JSON:
        return 400
    return 200


# Once execution has started, `application/graphql-response+json` answers 200 but for
# these (contract section 6: the credential, permission and rate rules, and 503).
_EXECUTED_STATUSES_WITH_GRAPHQL_RESPONSE = frozenset({401, 403, 429, 503})


def retry_after(errors: list[dict[str, Any]]) -> str:
    """The `Retry-After` of a 429: the longest wait any error asks for."""
    return str(max(int((e.get("extensions") or {}).get("retryAfter") or 1) for e in errors))


# -- exceptions before execution ------------------------------------------------------


def _refusal(exc: BaseException, presented_as: str | None) -> tuple[GatehouseError, int, dict[str, str]]:
    """The error a client sees for `exc`, its status and the headers that status needs."""
    if isinstance(exc, CredentialRejected):
        return exc, 401, {"WWW-Authenticate": CHALLENGES[exc.scheme]}
    if isinstance(exc, RateLimited):
        return exc, 429, {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, BadRequest):
        return exc, exc.status, exc.headers
    if isinstance(exc, NestedTooDeep):
        return exc, 400, {}
    if isinstance(exc, PayloadTooLarge):
        return exc, 413, {}
    if isinstance(exc, ServiceUnavailable):
        return exc, 503, {"Retry-After": RETRY_AFTER_UNAVAILABLE}
    if isinstance(exc, GatehouseError):
        status = STATUS_BY_CODE.get(exc.code.value, 200)
        if status == 401:
            return exc, 401, {"WWW-Authenticate": CHALLENGES.get(presented_as or "", PLAIN_CHALLENGE)}
        return exc, status, {}
    if is_unavailable(exc):
        logger.error("backing service unavailable before execution: %s", type(exc).__name__)
        return ServiceUnavailable(UNAVAILABLE_MESSAGE), 503, {"Retry-After": RETRY_AFTER_UNAVAILABLE}
    if isinstance(exc, RecursionError):
        # The input bounds (schema/input_limits.py) should make this unreachable; if not,
        # one log line rather than a traceback of a thousand frames.
        logger.error("recursion limit reached while handling a request")
    else:
        logger.error("unexpected error before execution", exc_info=exc)
    from core.errors import InternalError

    return InternalError(INTERNAL_MESSAGE), 500, {}


def error_response(
    exc: BaseException, media: MediaType, presented_as: str | None = None
) -> Response:
    """The whole response for an exception raised before execution: GraphQL JSON with no
    `data` entry, the status of its type, and `Cache-Control: no-store`.

    A wrong value (`BadUserInput`) answers 400 with `application/graphql-response+json`
    and 200 with `application/json`, as a variable that fails to coerce does.
    """
    error, status, headers = _refusal(exc, presented_as)
    if isinstance(error, BadUserInput) and not isinstance(error, NestedTooDeep):
        status = 400 if media is GRAPHQL_RESPONSE_JSON else 200
    body = orjson.dumps(error_body(error))
    return Response(
        body, status_code=status, media_type=media.content_type, headers={**NO_STORE, **headers}
    )


# The OAuth error names (RFC 6749 section 5.2, RFC 6750 section 3.1) of the endpoints
# other services call (`/oauth/introspect`), by the status `_refusal` chose.
_OAUTH_ERROR_BY_STATUS = {
    400: "invalid_request",
    401: "invalid_token",
    403: "insufficient_scope",
    405: "invalid_request",
    413: "invalid_request",
    415: "invalid_request",
    429: "rate_limited",
    503: "temporarily_unavailable",
    500: "server_error",
}


def oauth_error_response(
    exc: BaseException, presented_as: str | None = None, needed_scope: str | None = None
) -> Response:
    """The whole answer of an OAuth-style endpoint refused by `exc`: a JSON object
    `{"error", "error_description", "code"}` (`retry_after` too for a 429), the status of
    its type, `Cache-Control: no-store`, and the challenge RFC 6750 asks for.

    A 401 names the scheme the caller used (`presented_as`), with `error="invalid_token"`
    when it presented a credential and no error code when it presented none (RFC 6750
    section 3.1; its body says `invalid_client`); a 403 challenges with
    `error="insufficient_scope"` and the `needed_scope`.
    """
    if isinstance(exc, CredentialRejected) and presented_as is None:
        presented_as = exc.scheme  # a header too malformed to name its scheme first
    error, status, headers = _refusal(exc, presented_as)
    if isinstance(error, BadUserInput):
        status = 400
    name = _OAUTH_ERROR_BY_STATUS.get(status, "invalid_request")
    if status == 401 and presented_as is None:
        name = "invalid_client"
        headers = {"WWW-Authenticate": PLAIN_CHALLENGE}
    elif status == 401 and presented_as == "Token":
        headers = {"WWW-Authenticate": f'{CHALLENGES["Token"]}, error="invalid_token"'}
    elif status == 401:
        headers = {"WWW-Authenticate": CHALLENGES.get(presented_as or "", CHALLENGES["Bearer"])}
    elif status == 403:
        realm = CHALLENGES[presented_as or "Bearer"].partition(",")[0]
        scope = f', scope="{needed_scope}"' if needed_scope else ""
        headers = {"WWW-Authenticate": f'{realm}, error="insufficient_scope"{scope}'}
    body: dict[str, Any] = {"error": name, "error_description": error.message, "code": error.code.value}
    if isinstance(error, RateLimited):
        body["retry_after"] = error.retry_after
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={**NO_STORE, **headers},
    )


# WebSocket close codes for a refused handshake, as graphql-ws names them.
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNAVAILABLE = 1013  # "try again later"


def refuse_websocket(exc: BaseException) -> WebSocketClose:
    """The close that answers a WebSocket handshake refused before it was accepted."""
    error, status, _ = _refusal(exc, None)
    code = {401: CLOSE_UNAUTHORIZED, 403: CLOSE_FORBIDDEN, 503: CLOSE_UNAVAILABLE}.get(status, 1008)
    return WebSocketClose(code=code, reason=error.message[:120])
