"""The stable error codes of the contract and the exceptions that carry them.

Resolvers and services raise these; GraphQL copies `extensions` into the response and
the HTTP layer turns the codes into status codes when no data could be returned.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(str, Enum):
    """Codes clients may rely on (`extensions.code`)."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # Before execution (contract section 6): the request itself is at fault.
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    BAD_REQUEST = "BAD_REQUEST"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    # Section 12: signed in, but the sign-in is older than the field allows.
    INSUFFICIENT_AUTH = "INSUFFICIENT_AUTH"
    # Section 11: the password was right, but REQUIRE_VERIFIED_EMAIL waits for the address.
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    # Section 10: a provider's sign-in that may neither create nor join an account.
    ACCOUNT_LINK_REQUIRED = "ACCOUNT_LINK_REQUIRED"


GENERIC_LOGIN_FAILURE = "Invalid login or password."
INTERNAL_MESSAGE = "Internal server error."
UNAVAILABLE_MESSAGE = "A backing service is unavailable; try again shortly."


class GatehouseError(Exception):
    """An expected error with a stable code; its message is safe to show to the client."""

    code: ErrorCode = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code.value, **extra}


class Unauthenticated(GatehouseError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    code = ErrorCode.UNAUTHENTICATED


class Forbidden(GatehouseError):
    """Authenticated, but not allowed; also a failed CSRF check."""

    code = ErrorCode.FORBIDDEN


class InsufficientAuth(GatehouseError):
    """Signed in, but longer ago than `max_age` seconds allows (step-up, section 12);
    `reauthenticate` renews the sign-in. `extensions.maxAge` tells the client the bound."""

    code = ErrorCode.INSUFFICIENT_AUTH

    def __init__(self, max_age: int, message: str | None = None) -> None:
        self.max_age = max_age
        super().__init__(
            message or f"This needs a sign-in within the last {max_age} seconds; reauthenticate first.",
            maxAge=max_age,
        )


class EmailNotVerified(GatehouseError):
    """A sign-in with the right password by an account whose email address is not verified
    yet, while `REQUIRE_VERIFIED_EMAIL` is on. Only someone who knows the password gets it,
    so it tells nobody else that the account exists."""

    code = ErrorCode.EMAIL_NOT_VERIFIED


class AccountLinkRequired(GatehouseError):
    """A sign-in with another provider that neither creates nor joins an account: an
    account already has its email (`reason` `EMAIL_IN_USE`: its owner signs in and links
    the provider), or the provider does not vouch for the email (`EMAIL_NOT_VERIFIED`:
    register, then link). Never an account taken over silently (docs/FEDERATION.md)."""

    code = ErrorCode.ACCOUNT_LINK_REQUIRED

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class BadUserInput(GatehouseError):
    """Invalid input; `fields` maps each input field to a message."""

    code = ErrorCode.BAD_USER_INPUT

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(
            message or "Invalid input: " + "; ".join(f"{name}: {text}" for name, text in fields.items()),
            fields=dict(fields),
        )
        self.fields = dict(fields)


class RateLimited(GatehouseError):
    """Too many attempts; `retry_after` is in whole seconds."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after: int, message: str = "Too many attempts; try again later.") -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, retryAfter=self.retry_after)


class BadRequest(GatehouseError):
    """A request that is not a GraphQL request: unreadable JSON, a wrong content type, no
    `query`, a batch, an operation that cannot be chosen. `status` is its HTTP status
    (400, or 405, 406 and 415 for the method, `Accept` and content type); `headers` go
    with it (`Allow` for a 405)."""

    code = ErrorCode.BAD_REQUEST

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


class PersistedQueryNotFound(GatehouseError):
    """A persisted-query hash this server does not know (or, with `PERSISTED_QUERIES=only`,
    a document that is not in the manifest)."""

    code = ErrorCode.PERSISTED_QUERY_NOT_FOUND

    def __init__(self, message: str = "PersistedQueryNotFound") -> None:
        super().__init__(message)


class PayloadTooLarge(GatehouseError):
    """A request body over `MAX_BODY_BYTES`."""

    code = ErrorCode.PAYLOAD_TOO_LARGE


class InternalError(GatehouseError):
    """Something unexpected; the message never shows internals."""

    code = ErrorCode.INTERNAL_SERVER_ERROR


class ServiceUnavailable(GatehouseError):
    """A backing service (database) did not answer in time."""

    code = ErrorCode.SERVICE_UNAVAILABLE


def error_body(error: GatehouseError) -> dict[str, Any]:
    """The body of an answer refused before execution: the error, and no `data` entry
    (nothing executed). `web/errors.py` chooses its status; the layers below the app
    (`core/hosts.py`, `core/header_limits.py`) use it for their own refusals."""
    return {"errors": [{"message": error.message, "extensions": error.extensions}]}
