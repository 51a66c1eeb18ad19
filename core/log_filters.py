"""Logging filters that keep secrets a client put in a URL out of the server's log."""

from __future__ import annotations

import logging


def _without_query(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "?" in value:  # a request target
        return value.split("?", 1)[0] + "?…"
    return value


class DropQueryStrings(logging.Filter):
    """Cuts the query string from every argument of a log record that is a request target.

    uvicorn's `uvicorn.error` logger writes each WebSocket handshake as
    `"WebSocket /graphql?access_token=..." 403` even with its access log off; a token a
    client put in the URL must not reach the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments; never drops the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(a) for a in record.args)
        return True


def drop_query_strings_from_uvicorn() -> None:
    """Attach `DropQueryStrings` to uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
            logger.addFilter(DropQueryStrings())
