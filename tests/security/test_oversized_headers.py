"""Huge or countless request headers.

Issue 10, case 10: a 40 MB `Cookie` header was accepted, and the server grew by 170 MB.
uvicorn's httptools protocol has no bound of its own; `serve` runs a bounded one
(`core/http_protocol.py`) that answers 431 past 64 KiB of request head, and the app
(`core/header_limits.py` `HeaderLimits`) answers 431 with GraphQL JSON for more than 100
headers, one over 16 KiB or 32 KiB in all, under any server.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from core.header_limits import (
    MAX_HEAD_BYTES,
    MAX_HEADER_COUNT,
    MAX_HEADER_FIELD_BYTES,
    MAX_NON_BODY_BYTES,
    header_problem,
)
from tests.helpers import GRAPHQL, ME, TEST_DATABASE_URL, TEST_REDIS_URL, gql, reset_postgres, run
from tests.helpers.processes import ROOT, GatehouseServer, free_port, wait_for

FORTY_MB = 40 * 1024 * 1024
GROWTH_ALLOWED = 16 * 1024 * 1024  # bytes of resident memory a refused request may cost


def assert_431(response: httpx.Response) -> None:
    assert response.status_code == 431, (response.status_code, response.text[:200])
    body = response.json()
    assert "data" not in body  # refused before anything executed (section 6)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "header" in body["errors"][0]["message"]


def test_each_bound_admits_its_limit_and_refuses_one_more():
    """100 headers, 16 KiB for one header (name and value), 32 KiB in all."""
    many = [(b"x-h%d" % n, b"1") for n in range(100)]
    assert header_problem(many) is None
    assert header_problem([*many, (b"x-more", b"1")]) == "A request may carry at most 100 headers."

    name, other = b"x-big", (b"x-other", b"1")
    assert header_problem([(name, b"x" * (16 * 1024 - len(name))), other]) is None
    assert header_problem([(name, b"x" * (16 * 1024 - len(name) + 1)), other]) == (
        "A request header may be at most 16384 bytes."
    )

    quarters = [(b"x-part-%d" % n, b"x" * (8 * 1024 - len(b"x-part-%d" % n))) for n in range(4)]
    assert header_problem(quarters) is None
    over_the_total = [*quarters, (b"x", b"")]
    assert header_problem(over_the_total) == "A request's headers may be at most 32768 bytes in all."


@pytest.mark.parametrize("path", [GRAPHQL, "/healthz"])
async def test_a_huge_cookie_is_refused_by_the_app(http: httpx.AsyncClient, path: str):
    response = await http.post(path, json={"query": ME}, headers={"Cookie": "a=" + "x" * 1024 * 1024})
    assert_431(response)


async def test_too_many_headers_are_refused(http: httpx.AsyncClient):
    headers = [(f"x-h{n}", "1") for n in range(MAX_HEADER_COUNT + 1)]
    assert_431(await http.post(GRAPHQL, json={"query": ME}, headers=headers))


async def test_one_header_over_its_bound_is_refused(http: httpx.AsyncClient):
    assert_431(await http.post(GRAPHQL, json={"query": ME}, headers={"X-Big": "x" * MAX_HEADER_FIELD_BYTES}))


async def test_headers_over_the_total_are_refused(http: httpx.AsyncClient):
    headers = {f"x-part-{n}": "x" * 8000 for n in range(5)}  # each fine, 40 KB in all
    assert_431(await http.post(GRAPHQL, json={"query": ME}, headers=headers))


async def test_large_but_ordinary_headers_pass(http: httpx.AsyncClient):
    headers = {f"x-part-{n}": "x" * 6000 for n in range(4)}  # 24 KB in all, 80 headers
    headers.update({f"x-h{n}": "1" for n in range(70)})
    result = await gql(http, ME, headers=headers)
    assert result.status == 200 and result.data == {"me": None}, result.body


def memory(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of `pid` in bytes: now (`VmRSS`) or at its peak (`VmHWM`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


def send_raw(port: int, head: bytes, size: int, tail: bytes) -> tuple[int, bytes]:
    """Send `head`, `size` bytes of "x" and `tail` over a raw socket; (bytes of "x" sent, answer)."""
    chunk = b"x" * 65536
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while part := sock.recv(65536):
                answer += part
                if b"\r\n\r\n" in answer and answer.startswith(b"HTTP/1.1 200"):
                    break
        except (ConnectionResetError, TimeoutError):
            pass
    return sent, answer


def send_huge_cookie(port: int, size: int = FORTY_MB) -> tuple[int, bytes]:
    """POST /graphql with a `size`-byte Cookie."""
    body = json.dumps({"query": ME}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCookie: a="
    ).encode()
    return send_raw(port, head, size, b"\r\n\r\n" + body)


def send_huge_trailer(port: int, size: int = FORTY_MB) -> tuple[int, bytes]:
    """POST /graphql chunked: a whole body, then a `size`-byte trailer."""
    body = json.dumps({"query": ME}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + b"%x\r\n%s\r\n0\r\nX-Trailer: " % (len(body), body)
    return send_raw(port, head, size, b"\r\n\r\n")


def assert_refused_cheaply(
    pid: int,
    port: int,
    statuses: tuple[bytes, ...],
    send: Callable[[int], tuple[int, bytes]] = send_huge_cookie,
) -> None:
    before, peak_before = memory(pid), memory(pid, "VmHWM")
    sent, answer = send(port)
    time.sleep(0.5)
    # The peak too: a request's memory may be given back once it is over.
    grown = max(memory(pid) - before, memory(pid, "VmHWM") - peak_before)
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert answer == b"" or answer.split(b" ")[1] in statuses, answer[:200]
    assert sent < FORTY_MB, "the server read all 40 MB"
    assert grown < GROWTH_ALLOWED, f"grew by {grown / 2**20:.0f} MiB"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    workdir = tmp_path_factory.mktemp("headers")
    if TEST_DATABASE_URL:
        run(reset_postgres(TEST_DATABASE_URL))
    return {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": TEST_DATABASE_URL or f"sqlite://{Path(workdir) / 'headers.db'}",
        "REDIS_URL": TEST_REDIS_URL or "",
    }


@pytest.fixture(scope="module")
def serve(env: dict[str, str]) -> Iterator[GatehouseServer]:
    with GatehouseServer(env) as server:
        yield server


@pytest.mark.server
def test_serve_refuses_a_40_mb_cookie_without_growing(serve: GatehouseServer):
    assert serve.process is not None
    # uvicorn picks httptools when installed; `serve` bounds it.
    assert_refused_cheaply(serve.process.pid, serve.port, (b"431",))
    with httpx.Client(base_url=serve.url, timeout=10) as client:
        assert client.post(GRAPHQL, json={"query": ME}).status_code == 200  # still serving
        # Between the app's bound and the server's: the app's JSON answer.
        assert_431(client.post(GRAPHQL, json={"query": ME}, headers={"Cookie": "a=" + "x" * 40_000}))


@pytest.mark.server
def test_serve_refuses_40_mb_of_trailers_without_growing(serve: GatehouseServer):
    assert serve.process is not None
    assert_refused_cheaply(serve.process.pid, serve.port, (b"431",), send_huge_trailer)
    with httpx.Client(base_url=serve.url, timeout=10) as client:
        assert client.post(GRAPHQL, json={"query": ME}).status_code == 200


@pytest.mark.server
def test_serve_counts_a_pipelined_head_sent_with_the_previous_request(serve: GatehouseServer):
    first = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{serve.port}\r\n\r\n".encode()
    second = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{serve.port}\r\nCookie: a=".encode()
    # The second head is over the bound by 4 KB, most of it sent together with the first request.
    rest = MAX_HEAD_BYTES + 4096 - len(second)
    with socket.create_connection(("127.0.0.1", serve.port), timeout=10) as sock:
        sock.sendall(first + second + b"x" * (rest - 8192))
        time.sleep(0.2)
        sock.sendall(b"x" * 8192 + b"\r\n\r\n")
        answer = b""
        while part := sock.recv(65536):
            answer += part
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    refusal = answer[answer.index(b"HTTP/1.1 ", 1) :]
    assert refusal.startswith(b"HTTP/1.1 431"), refusal[:200]
    # The server's refusal, not the app's (which would mean the parser held the whole head).
    assert f"at most {MAX_HEAD_BYTES} bytes".encode() in refusal, refusal[:400]


@contextmanager
def uvicorn_process(env: dict[str, str], *options: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`uvicorn --factory app.asgi:create_from_env` with `options`; (process, port)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.asgi:create_from_env", *options]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def deployment_guide_command() -> list[str]:
    """The options of the uvicorn command in docs/DEPLOYMENT.md, `--workers` and `--loop` left out."""
    text = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    command = re.search(r"`(uvicorn --factory [^`]+)`", text.replace("\n", " "))
    assert command, "docs/DEPLOYMENT.md shows no uvicorn command"
    words = shlex.split(command.group(1).replace('"$TRUSTED_PROXIES"', "127.0.0.1"))
    options = words[3:]
    for option in ("--workers", "--loop"):
        if option in options:
            index = options.index(option)
            del options[index : index + 2]
    return options


@pytest.mark.server
def test_uvicorn_run_as_the_deployment_guide_says_is_bounded(env: dict[str, str]):
    options = deployment_guide_command()
    assert "core.http_protocol:BoundedHttpToolsProtocol" in options and "--no-proxy-headers" in options, (
        options
    )
    with uvicorn_process(env, *options) as (process, port):
        assert_refused_cheaply(process.pid, port, (b"431",))
        assert_refused_cheaply(process.pid, port, (b"431",), send_huge_trailer)
        response = httpx.post(
            f"http://127.0.0.1:{port}{GRAPHQL}", json={"query": ME}, headers={"Cookie": "a=" + "x" * 40_000}
        )
        assert_431(response)


@pytest.mark.server
def test_uvicorn_with_h11_bounded_refuses_a_40_mb_cookie_without_growing(env: dict[str, str]):
    options = ("--http", "h11", "--h11-max-incomplete-event-size", str(MAX_HEAD_BYTES), "--no-access-log")
    with uvicorn_process(env, *options) as (process, port):
        assert_refused_cheaply(process.pid, port, (b"400", b"431"))
        assert_refused_cheaply(process.pid, port, (b"400", b"431"), send_huge_trailer)
        response = httpx.post(
            f"http://127.0.0.1:{port}{GRAPHQL}", json={"query": ME}, headers={"Cookie": "a=" + "x" * 40_000}
        )
        assert_431(response)


# -- the bounded protocol, fed bytes directly -------------------------------------------
# A fake transport and a recording app: every byte handed to httptools is counted, so a
# test can say how much the parser was ever given, whatever uvicorn does with it.

READ = 65536  # bytes per read, as a socket hands them over


class FakeTransport(asyncio.Transport):
    """Records what the protocol writes; closing it loses the connection, as a socket does."""

    def __init__(self, protocol: Any) -> None:
        super().__init__()
        self.protocol = protocol
        self.written = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class CountingParser:
    """Wraps httptools' parser and counts the bytes it is fed."""

    def __init__(self, parser: Any) -> None:
        self._parser = parser
        self.fed = 0

    def feed_data(self, data: Any) -> None:
        self.fed += len(data)
        self._parser.feed_data(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


class Connection:
    """One connection to `BoundedHttpToolsProtocol`; `requests` holds what the app saw."""

    def __init__(self, answer_first: bool = False) -> None:
        from uvicorn.config import Config
        from uvicorn.server import ServerState

        from core.http_protocol import BoundedHttpToolsProtocol

        self.requests: list[tuple[str, list[tuple[bytes, bytes]], bytes]] = []
        self.answer_first = answer_first  # begin the answer before reading the body
        config = Config(
            app=self.app, interface="asgi3", lifespan="off", proxy_headers=False, access_log=False
        )
        self.protocol = BoundedHttpToolsProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
        self.transport = FakeTransport(self.protocol)
        self.protocol.connection_made(self.transport)
        self.parser = CountingParser(self.protocol.parser)
        self.protocol.parser = self.parser

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.answer_first:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
            await send({"type": "http.response.body", "body": b"ok", "more_body": True})
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append((scope["path"], list(scope["headers"]), body))
        if self.answer_first:
            await send({"type": "http.response.body", "body": b"ok"})
            return
        answer = b"ok:" + scope["path"].encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(answer))],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    def send(self, data: bytes, read: int = READ) -> None:
        """Hand `data` over in reads of `read` bytes, stopping once the connection closed."""
        for start in range(0, len(data), read):
            if self.transport.closed:
                return
            self.protocol.data_received(data[start : start + read])

    async def settle(self) -> None:
        """Let the app's tasks run."""
        for _ in range(50):
            await asyncio.sleep(0)

    @property
    def statuses(self) -> list[int]:
        """The status of every answer written, in order."""
        return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", bytes(self.transport.written))]


def get(path: str, extra: bytes = b"") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: gatehouse\r\n".encode() + extra + b"\r\n"


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: gatehouse\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def chunked(path: str, chunks: list[bytes], trailers: bytes = b"", extra: bytes = b"") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: gatehouse\r\nTransfer-Encoding: chunked\r\n".encode()
        + extra
        + b"\r\n"
    )
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return head + body + b"0\r\n" + trailers + b"\r\n"


def cookie(size: int) -> bytes:
    return b"Cookie: a=" + b"x" * size + b"\r\n"


async def test_the_protocol_finds_what_it_relies_on_in_uvicorn():
    from uvicorn.protocols.http import httptools_impl

    from core.http_protocol import RELIES_ON, RELIES_ON_CYCLE_STATE, RELIES_ON_STATE

    connection = Connection()
    connection.protocol.data_received(b"POST /a HTTP/1.1\r\nHost: gatehouse\r\nContent-Length: 2\r\n\r\n")
    cycle = connection.protocol.cycle
    missing = [
        f"{cls}.{name}"
        for cls, names in RELIES_ON.items()
        for name in names
        if not hasattr(getattr(httptools_impl, cls, None), name)
    ]
    missing += [
        f"HttpToolsProtocol().{name}" for name in RELIES_ON_STATE if not hasattr(connection.protocol, name)
    ]
    missing += [
        f"RequestResponseCycle().{name}" for name in RELIES_ON_CYCLE_STATE if not hasattr(cycle, name)
    ]
    assert not missing, (
        f"uvicorn {uvicorn.__version__} no longer has what core/http_protocol.py overrides or reads: "
        f"{', '.join(missing)}. Re-read uvicorn/protocols/http/httptools_impl.py, adapt "
        "BoundedHttpToolsProtocol, and move the uvicorn pin in pyproject.toml."
    )


async def test_an_over_long_head_is_refused_before_the_parser_holds_it():
    connection = Connection()
    connection.send(b"POST /graphql HTTP/1.1\r\nHost: gatehouse\r\n" + cookie(FORTY_MB))
    await connection.settle()
    assert connection.statuses == [431]
    assert connection.transport.closed and connection.requests == []
    assert connection.parser.fed <= MAX_HEAD_BYTES


async def test_huge_trailers_are_refused():
    connection = Connection()
    connection.send(
        chunked(
            "/graphql", [b'{"query": "{ me { id } }"}'], trailers=b"X-Trailer: " + b"y" * FORTY_MB + b"\r\n"
        )
    )
    await connection.settle()
    assert connection.transport.closed
    assert 431 in connection.statuses or connection.statuses == [], connection.statuses
    assert connection.parser.fed <= MAX_NON_BODY_BYTES + READ
    assert all(
        len(value) < MAX_NON_BODY_BYTES for _, headers, _ in connection.requests for _, value in headers
    )


async def test_huge_trailers_after_the_answer_began_only_close_the_connection():
    connection = Connection(answer_first=True)
    request = chunked("/a", [b"abc"], trailers=b"X-Trailer: " + b"y" * FORTY_MB + b"\r\n")
    head_and_body = request.index(b"X-Trailer")
    connection.send(request[:head_and_body])
    await connection.settle()
    connection.send(request[head_and_body:])
    await connection.settle()
    assert connection.transport.closed
    # The answer begun is cut off, not followed by a refusal the client would read as its end.
    assert connection.statuses == [200]
    assert connection.transport.written.endswith(b"ok")
    assert connection.parser.fed <= MAX_NON_BODY_BYTES + READ + head_and_body


async def test_blank_lines_before_a_request_pass_and_a_flood_of_them_is_refused():
    connection = Connection()
    connection.send(b"\r\n\r\n" + get("/a"))
    await connection.settle()
    assert connection.statuses == [200]
    connection.send(b"\r\n" * MAX_HEAD_BYTES)
    await connection.settle()
    assert connection.statuses in ([200, 400], [200, 431])
    assert connection.transport.closed


async def test_a_malformed_request_still_gets_400():
    connection = Connection()
    connection.send(b"GET / HTTP/1.1\r\nHost: gatehouse\r\nBad Header\r\n\r\n" + get("/b"))
    await connection.settle()
    assert connection.statuses == [400]
    assert connection.transport.closed and connection.requests == []


async def test_trailers_never_join_the_headers():
    connection = Connection()
    connection.send(
        chunked("/a", [b"abc"], trailers=b"X-Forwarded-For: 203.0.113.9\r\nAuthorization: Bearer forged\r\n")
    )
    await connection.settle()
    assert connection.statuses == [200]
    [(path, headers, body)] = connection.requests
    assert (path, body) == ("/a", b"abc")
    assert [name for name, _ in headers] == [b"host", b"transfer-encoding"]


@pytest.mark.parametrize(
    "first",
    [get("/first"), post("/first", b"x" * 1000), chunked("/first", [b"x" * 1000])],
    ids=["get", "content-length", "chunked"],
)
async def test_a_pipelined_head_read_with_the_previous_message_is_counted(first: bytes):
    connection = Connection()
    # One read: a whole request and most of the next head; the next read ends that head.
    second = b"GET /second HTTP/1.1\r\nHost: gatehouse\r\n" + cookie(MAX_HEAD_BYTES)
    connection.protocol.data_received(first + second[: MAX_HEAD_BYTES - 1000])
    connection.protocol.data_received(second[MAX_HEAD_BYTES - 1000 :] + b"\r\n")
    await connection.settle()
    assert [path for path, _, _ in connection.requests] == ["/first"]
    assert connection.statuses == [200, 431]
    assert connection.transport.closed


@pytest.mark.parametrize(
    "first",
    [get("/first"), post("/first", b"x" * 1000), chunked("/first", [b"x" * 1000])],
    ids=["get", "content-length", "chunked"],
)
async def test_a_pipelined_head_just_under_the_bound_passes(first: bytes):
    connection = Connection()
    second = b"GET /second HTTP/1.1\r\nHost: gatehouse\r\n"
    second += cookie(MAX_HEAD_BYTES - 100 - len(second)) + b"\r\n"
    connection.protocol.data_received(first + second[: MAX_HEAD_BYTES - 1000])
    connection.protocol.data_received(second[MAX_HEAD_BYTES - 1000 :])
    for _ in range(3):
        await connection.settle()
    assert [path for path, _, _ in connection.requests] == ["/first", "/second"]
    assert connection.statuses == [200, 200]


def keep_alive_sequence() -> list[bytes]:
    """Requests with bodies of every kind and heads near the bound (40 KB), and small ones."""
    big = cookie(40_000)
    return [
        post("/one", b'{"query": "{ me { id } }"}', big),
        chunked("/two", [b"ab", b"c" * 5000], extra=big),
        get("/three", big),
        post("/four", b"", big),
        chunked("/five", [b"d" * 70_000], trailers=b"X-Checksum: 1\r\n"),
        post("/six", b"e" * 200_000),
        get("/seven"),
    ]


EXPECTED = [
    ("/one", b'{"query": "{ me { id } }"}'),
    ("/two", b"ab" + b"c" * 5000),
    ("/three", b""),
    ("/four", b""),
    ("/five", b"d" * 70_000),
    ("/six", b"e" * 200_000),
    ("/seven", b""),
]


@pytest.mark.parametrize("read", [1, 7, 1000, READ])
async def test_a_keep_alive_sequence_passes_whatever_the_reads(read: int):
    connection = Connection()
    for request in keep_alive_sequence():  # each after the previous answer, as clients do
        connection.send(request, read)
        await connection.settle()
    assert not connection.transport.closed, bytes(connection.transport.written)[-300:]
    assert [(path, body) for path, _, body in connection.requests] == EXPECTED
    assert connection.statuses == [200] * len(EXPECTED)


async def test_pipelined_requests_with_heads_near_the_bound_pass():
    connection = Connection()
    big = cookie(40_000)
    requests = [
        post("/one", b"a" * 10, big),
        get("/two", big),
        post("/three", b"b" * 3000, big),
        get("/four", big),
    ]
    connection.send(b"".join(requests), 4 * READ)
    for _ in range(10):
        await connection.settle()
    assert not connection.transport.closed
    assert [path for path, _, _ in connection.requests] == ["/one", "/two", "/three", "/four"]
    assert connection.statuses == [200] * 4
