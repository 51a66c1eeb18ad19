"""Every error leaves with a stable `extensions.code`; unexpected ones are masked and logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from tortoise.exceptions import ConfigurationError, DBConnectionError, OperationalError

from core.errors import INTERNAL_MESSAGE, ErrorCode, GatehouseError

logger = logging.getLogger("gatehouse.errors")

# "Variable '$input' got invalid value ... at 'input.username'; ..." names the field.
_VARIABLE_PATH = re.compile(r"at '([\w.\[\]]+)'")
_VARIABLE_NAME = re.compile(r"Variable '\$(\w+)'")


def _input_fields(message: str) -> dict[str, str]:
    path = _VARIABLE_PATH.search(message)
    if path:
        return {path.group(1).split(".")[-1].split("[")[0]: message}
    name = _VARIABLE_NAME.search(message)
    if name:
        return {name.group(1): message}
    return {}


def _is_unavailable(error: BaseException) -> bool:
    return isinstance(error, (DBConnectionError, OSError, TimeoutError, ConnectionError)) or (
        isinstance(error, (OperationalError, ConfigurationError))
        and any(w in str(error).lower() for w in ("connect", "timeout", "closed", "refused"))
    )


def classify(error: GraphQLError) -> GraphQLError:
    """Give `error` its code; replace unexpected errors by a masked one (and log the trace)."""
    original = error.original_error
    if isinstance(original, GatehouseError):
        error.extensions = dict(original.extensions)
        return error
    if original is None:
        # Parse, validation and variable-coercion errors: the client's input is at fault.
        error.extensions = {
            **(error.extensions or {}),
            "code": ErrorCode.BAD_USER_INPUT.value,
            "fields": _input_fields(error.message),
        }
        return error
    if _is_unavailable(original):
        logger.error("backing service unavailable: %s", type(original).__name__)
        code, message = ErrorCode.SERVICE_UNAVAILABLE, "A backing service is unavailable; try again shortly."
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
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [classify(e) for e in errors]  # type: ignore[union-attr]
