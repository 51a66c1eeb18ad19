"""uvicorn's HTTP protocols with the request head bounded (`core/header_limits.py`).

uvicorn 0.54 bounds a head only with h11 (`h11_max_incomplete_event_size`, 16 KiB by
default, answered 400); with httptools, which it picks when installed, it has no bound at
all: httptools gathers a header value of any size in memory before handing it over, and
its options (`limit_concurrency`, `limit_max_requests`, timeouts) bound other things.
`BoundedHttpToolsProtocol` counts the bytes of each head as they arrive and answers 431
past `MAX_HEAD_BYTES`, before the parser has held more than that. `serve` uses it
(`uvicorn_http_options`); running uvicorn directly, pass
`--http core.http_protocol:BoundedHttpToolsProtocol` (or `--http h11
--h11-max-incomplete-event-size 65536`).
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from core.header_limits import MAX_HEAD_BYTES, STATUS, refusal_body

logger = logging.getLogger("gatehouse.http")

_END_OF_HEAD = b"\r\n\r\n"


def _refusal() -> bytes:
    body = refusal_body(f"A request's line and headers may be at most {MAX_HEAD_BYTES} bytes.")
    return (
        f"HTTP/1.1 {STATUS} Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        "cache-control: no-store\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode("latin-1") + body


if importlib.util.find_spec("httptools") is not None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """`HttpToolsProtocol` that refuses a request head over `MAX_HEAD_BYTES` with 431.

        A head is counted from the first byte after the previous message (or the
        connection's start) to its blank line; body bytes that arrive in the same read
        are not counted.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_bytes: int | None = 0  # None while a body is being read
            self._tail = b""  # the end of the previous read, for a blank line split in two

        def data_received(self, data: bytes) -> None:
            """Count the head's bytes before the parser buffers them."""
            if self._head_bytes is not None:
                window = self._tail + data
                end = window.find(_END_OF_HEAD)
                counted = len(data) if end < 0 else max(0, end + len(_END_OF_HEAD) - len(self._tail))
                self._head_bytes += counted
                self._tail = window[-3:]
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._refuse()
                    return
            super().data_received(data)

        def _refuse(self) -> None:
            logger.warning("refused a request head over %d bytes", MAX_HEAD_BYTES)
            self._head_bytes = None
            self.transport.write(_refusal())
            self.transport.close()

        def on_headers_complete(self) -> None:
            """The head is over: stop counting until the next message."""
            self._head_bytes = None
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            """The next bytes start another head."""
            super().on_message_complete()
            self._head_bytes = 0
            self._tail = b""


def uvicorn_http_options() -> dict[str, Any]:
    """Options for `uvicorn.run` bounding the request head whichever parser serves."""
    options: dict[str, Any] = {"h11_max_incomplete_event_size": MAX_HEAD_BYTES}
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = BoundedHttpToolsProtocol
    else:
        options["http"] = "h11"
    return options
