"""Every error leaves with a stable `extensions.code`; unexpected ones are masked and logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from tortoise.exceptions import ConfigurationError, DBConnectionError, OperationalError

from core.errors import INTERNAL_MESSAGE, UNAVAILABLE_MESSAGE, ErrorCode, GatehouseError

logger = logging.getLogger("gatehouse.errors")

# "Variable '$input' has invalid value at .username: ..." names the field; a missing or
# unknown field is named in the reason ("... required field 'password' ...").
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


def _unavailable_types() -> tuple[type[BaseException], ...]:
    import asyncpg
    import redis.exceptions

    return (
        DBConnectionError,
        OSError,
        TimeoutError,
        ConnectionError,
        asyncpg.exceptions.PostgresConnectionError,
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.AdminShutdownError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
    )


_UNAVAILABLE = _unavailable_types()
_UNAVAILABLE_WORDS = ("connect", "timeout", "closed", "refused", "shutdown", "terminat")


def is_unavailable(error: BaseException | None) -> bool:
    """True when `error` (or its cause) means a backing service (database, Redis) did not answer."""
    depth = 0
    while error is not None and depth < 5:
        if isinstance(error, _UNAVAILABLE):
            return True
        if isinstance(error, (OperationalError, ConfigurationError)) and any(
            w in str(error).lower() for w in _UNAVAILABLE_WORDS
        ):
            return True
        error = error.__cause__ or error.__context__
        depth += 1
    return False


def classify(error: GraphQLError) -> GraphQLError:
    """Give `error` its code; replace unexpected errors by a masked one (and log the trace)."""
    original = error.original_error
    if isinstance(original, GatehouseError):
        error.extensions = dict(original.extensions)
        return error
    # Parse and validation errors carry no original; variable-coercion errors carry the
    # GraphQLError that describes the bad value, and have no path (nothing executed yet).
    if original is None or (isinstance(original, GraphQLError) and error.path is None):
        # The client's input is at fault.
        error.message = _without_echoed_values(error.message)
        error.extensions = {
            **(error.extensions or {}),
            "code": ErrorCode.BAD_USER_INPUT.value,
            "fields": _input_fields(error.message),
        }
        return error
    if is_unavailable(original):
        logger.error("backing service unavailable: %s", type(original).__name__)
        code, message = ErrorCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE
    else:
        logger.error("unexpected error in %s", error.path, exc_info=original)
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


class ErrorCodes(SchemaExtension):
    """Applies `classify` to every error of an operation."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:
            # A syntax error raised inside a parse hook (ParserCache) leaves through
            # Strawberry's exception path, which skips the code below: code it here.
            raise classify(error) from None
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [classify(e) for e in errors]  # type: ignore[union-attr]
