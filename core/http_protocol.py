"""uvicorn's HTTP protocols with every non-body byte of a request bounded (`core/header_limits.py`).

uvicorn 0.54 bounds a head only with h11 (`h11_max_incomplete_event_size`, 16 KiB by
default, answered 400); with httptools, which it picks when installed, it has no bound at
all: httptools gathers a header value of any size in memory before handing it over, and
its options (`limit_concurrency`, `limit_max_requests`, timeouts) bound other things.
Trailers (header fields after a chunked body) are gathered the same way, and uvicorn then
appends them to the request's headers, which the app has already checked and may read
again after the body.

`BoundedHttpToolsProtocol` counts, for each message, every byte that is not handed over
as body: the request line and headers (at most `MAX_HEAD_BYTES`, 431 before the parser is
given more), and with them the chunk-size lines and trailers of a chunked body (at most
`MAX_NON_BODY_BYTES` in all). It drops trailers, as RFC 9110 section 6.5.1 lets a
recipient do, instead of merging them into the headers. `serve` uses it
(`uvicorn_http_options`); running uvicorn directly, pass
`--http core.http_protocol:BoundedHttpToolsProtocol` (or `--http h11
--h11-max-incomplete-event-size 65536`).
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from core.header_limits import MAX_HEAD_BYTES, MAX_NON_BODY_BYTES, STATUS, refusal_body

logger = logging.getLogger("gatehouse.http")

_END_OF_HEAD = b"\r\n\r\n"
HEAD_PROBLEM = f"A request's line and headers may be at most {MAX_HEAD_BYTES} bytes."
NON_BODY_PROBLEM = (
    f"A request's line, headers, chunk-size lines and trailers may be at most {MAX_NON_BODY_BYTES} bytes."
)

# What `BoundedHttpToolsProtocol` overrides or reads in uvicorn (tests check they exist).
RELIES_ON = {
    "HttpToolsProtocol": (
        "data_received",
        "on_message_begin",
        "on_headers_complete",
        "on_body",
        "on_message_complete",
        "send_400_response",
        "on_response_complete",
        "_get_upgrade",
    ),
    "RequestResponseCycle": ("run_asgi", "send", "receive"),
}
# Set in `__init__` or `on_message_begin`, read or replaced here.
RELIES_ON_STATE = ("parser", "headers", "cycle", "transport", "flow", "pipeline", "scope")
RELIES_ON_CYCLE_STATE = ("response_started", "response_complete", "disconnected", "message_event")


def _refusal(problem: str) -> bytes:
    body = refusal_body(problem)
    return (
        f"HTTP/1.1 {STATUS} Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        "cache-control: no-store\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode("latin-1") + body


_NOT_YET = -1


if importlib.util.find_spec("httptools") is not None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """`HttpToolsProtocol` answering 431 when a message's non-body bytes pass their bounds.

        After each piece of input the parser takes, its bytes minus the body bytes the
        parser handed over count toward the current message. A head is checked before
        its bytes reach the parser; chunk-size lines and trailers after each piece (the
        parser may then hold one read more than the bound). A read holding one request
        is one piece; one that may hold several is cut after each head and after each
        `Content-Length` body, so that each message is counted on its own. When a piece
        still holds the end of one message and the start of the next (a pipelined
        request after a chunked body, in the same read), the next is counted with the
        previous one's chunk lines: the count can be high, never low.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True  # the next bytes belong to a head (request line, headers)
            self._counted = 0  # non-body bytes of the current message
            self._tail = b""  # the end of the previous read, for a blank line split in two
            # Body bytes still due by `Content-Length`; None: unknown (chunked, or the parser
            # disagrees), _NOT_YET: not looked up (a request without a body never needs it).
            self._body_left: int | None = None
            self._body_seen = 0  # body bytes handed over during the current piece
            self._ended: Any = None  # the scope of a message that ended in the current piece
            self._stopped = False  # refused or answered 400: feed nothing more
            self._upgrading = False  # uvicorn drops the rest of a read holding an upgrade's head
            self._refusal_due: str | None = None  # to answer once the requests before are

        def data_received(self, data: bytes) -> None:
            """Hand `data` to the parser, in pieces when it may hold several messages."""
            size = len(data)
            start = 0
            self._upgrading = False
            while start < size and not (self._stopped or self._upgrading):
                if self._in_head:
                    end = self._end_of_head(data, start)
                    head = end - start
                    if self._counted + head > MAX_HEAD_BYTES:
                        self._refuse(HEAD_PROBLEM)
                        return
                    # One read, one request (the usual case): one piece. With a second
                    # blank line, a second whole head may follow: stop at the first.
                    stop = end if end < size and data.find(_END_OF_HEAD, end) >= 0 else size
                else:
                    head = 0
                    left = self._body_left
                    if left == _NOT_YET:
                        left = self._content_length()
                    stop = size if left is None or start + left >= size else start + left
                    if left is not None:
                        self._body_left = left - (stop - start) or None  # 0: the parser disagrees
                self._feed(data if start == 0 and stop == size else memoryview(data)[start:stop], head)
                start = stop
                limit = MAX_HEAD_BYTES if self._in_head else MAX_NON_BODY_BYTES
                if self._counted > limit and not self._stopped:
                    self._refuse(HEAD_PROBLEM if self._in_head else NON_BODY_PROBLEM)
                    return

        def _end_of_head(self, data: bytes, start: int) -> int:
            """Where the head being read ends in `data` (after its blank line), else its end."""
            tail = self._tail
            if tail:
                self._tail = b""
                found = (tail + data[:3]).find(_END_OF_HEAD)
                if found >= 0:
                    return found + 4 - len(tail)
            found = data.find(_END_OF_HEAD, start)
            if found >= 0:
                return found + 4
            self._tail = data[-3:] if len(data) - start >= 3 else (tail + data[start:])[-3:]
            return len(data)

        def _feed(self, piece: bytes | memoryview, head: int) -> None:
            """Parse `piece`, which opens with `head` bytes ending a head, and count it."""
            self._body_seen = 0
            self._ended = None
            super().data_received(piece)  # type: ignore[arg-type]  # httptools takes a memoryview
            counted = len(piece) - self._body_seen
            if self._ended is None:
                self._counted += counted
            elif self.scope is self._ended:
                self._counted = 0  # the piece ended with the message: the next starts afresh
            else:
                # The next message began in the piece. The one that ended in it had at
                # least `head` non-body bytes there (its whole head, when it had no chunks:
                # a chunked body ends with a blank line, which makes the piece stop at its
                # head); the rest counts toward the next, exactly or more.
                self._counted = counted - head

        def _refuse(self, problem: str) -> None:
            logger.warning("refused a request: %s", problem)
            self._stopped = True
            cycle = self.cycle
            if cycle is None or cycle.response_complete:
                self._answer(problem)
            elif self._in_head:
                # Requests read before this head are still being answered: refuse after them.
                self._refusal_due = problem
                self.flow.pause_reading()
            else:
                # This request's own app is running: it must not write after the refusal,
                # nor be cut off in the middle of an answer it has begun (then only close).
                cycle.disconnected = True
                cycle.message_event.set()
                if cycle.response_started:
                    self.transport.close()
                else:
                    self._answer(problem)

        def _answer(self, problem: str) -> None:
            self.transport.write(_refusal(problem))
            self.transport.close()

        def on_response_complete(self) -> None:
            """Answer a refusal left waiting once every request before it is answered."""
            super().on_response_complete()
            problem = self._refusal_due
            if problem is not None and self.cycle.response_complete and not self.transport.is_closing():
                self._answer(problem)

        def send_400_response(self, msg: str) -> None:
            """The parser refused the bytes: feed it nothing more."""
            self._stopped = True
            super().send_400_response(msg)

        def on_headers_complete(self) -> None:
            """The head is over: the body follows, and trailers are dropped."""
            super().on_headers_complete()
            self._in_head = False
            self._tail = b""
            if self.parser.should_upgrade():
                # uvicorn reads `headers` again to upgrade, and drops the rest of the read.
                self._upgrading = True
                self._body_left = None
                return
            self._body_left = _NOT_YET
            # uvicorn appends trailers to `headers`, the list in the request's scope: give
            # it another, which nothing reads (it holds what the bounds above allow).
            self.headers = []

        def _content_length(self) -> int | None:
            """The body's length if it has a `Content-Length` and is not chunked."""
            headers = dict(self.scope["headers"])
            value = headers.get(b"content-length")
            if value is None or b"transfer-encoding" in headers or not value.isdigit():
                return None
            return int(value) or None

        def on_body(self, body: bytes) -> None:
            """Count the body bytes handed over."""
            self._body_seen += len(body)
            super().on_body(body)

        def on_message_complete(self) -> None:
            """The next bytes start another head."""
            super().on_message_complete()
            self._in_head = True
            self._body_left = None
            self._ended = self.scope


def uvicorn_http_options() -> dict[str, Any]:
    """Options for `uvicorn.run` bounding the request head whichever parser serves."""
    options: dict[str, Any] = {"h11_max_incomplete_event_size": MAX_HEAD_BYTES}
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = BoundedHttpToolsProtocol
    else:
        options["http"] = "h11"
    return options
