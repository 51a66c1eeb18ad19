"""Huge or countless request headers.

Issue 10, case 10: a 40 MB `Cookie` header was accepted, and the server grew by 170 MB.
uvicorn's httptools protocol has no bound of its own; `serve` runs a bounded one
(`core/http_protocol.py`) that answers 431 past 64 KiB of request head, and the app
(`core/header_limits.py` `HeaderLimits`) answers 431 with GraphQL JSON for more than 100
headers, one over 16 KiB or 32 KiB in all, under any server.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.header_limits import MAX_HEAD_BYTES, MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_HEADER_FIELD_BYTES
from tests.conftest import GRAPHQL, ME, TEST_DATABASE_URL, TEST_REDIS_URL, gql, reset_postgres, run
from tests.support.processes import ROOT, GatehouseServer, free_port, wait_for

FORTY_MB = 40 * 1024 * 1024
GROWTH_ALLOWED = 16 * 1024 * 1024  # bytes of resident memory a refused request may cost


def assert_431(response: httpx.Response) -> None:
    assert response.status_code == 431, (response.status_code, response.text[:200])
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "headers" in body["errors"][0]["extensions"]["fields"]


def test_the_bounds():
    assert (MAX_HEADER_COUNT, MAX_HEADER_FIELD_BYTES, MAX_HEADER_BYTES) == (100, 16384, 32768)
    assert MAX_HEAD_BYTES > MAX_HEADER_BYTES


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


def rss(pid: int) -> int:
    """Resident memory of `pid` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def send_huge_cookie(port: int, size: int = FORTY_MB) -> tuple[int, bytes]:
    """POST /graphql with a `size`-byte Cookie over a raw socket; (bytes sent, answer)."""
    body = json.dumps({"query": ME}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCookie: a="
    ).encode()
    chunk = b"x" * 65536
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
            sock.sendall(b"\r\n\r\n" + body)
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


def assert_refused_cheaply(pid: int, port: int, statuses: tuple[bytes, ...]) -> None:
    before = rss(pid)
    sent, answer = send_huge_cookie(port)
    time.sleep(0.5)
    grown = rss(pid) - before
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
def test_uvicorn_with_h11_bounded_refuses_a_40_mb_cookie_without_growing(env: dict[str, str]):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "core.asgi:create_from_env",
            "--http",
            "h11",
            "--h11-max-incomplete-event-size",
            str(MAX_HEAD_BYTES),
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200)
        assert_refused_cheaply(process.pid, port, (b"400", b"431"))
        response = httpx.post(
            f"http://127.0.0.1:{port}{GRAPHQL}", json={"query": ME}, headers={"Cookie": "a=" + "x" * 40_000}
        )
        assert_431(response)
    finally:
        process.terminate()
        process.wait(timeout=10)
