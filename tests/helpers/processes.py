"""Real processes for tests: Gatehouse servers, and private PostgreSQL and Redis servers.

Private servers run on spare ports in temporary directories, so fault tests can stop
and start them without touching the machine's shared services.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers.config import TEST_DATABASE_URL, TEST_GRAPHQL_EXECUTOR, TEST_REDIS_URL, TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0  # seconds


def engine_environment() -> dict[str, str]:
    """`GRAPHQL_EXECUTOR` for a server process: the engine the suite runs with
    (`TEST_GRAPHQL_EXECUTOR`), so CI's pass per engine reaches real servers too."""
    return {"GRAPHQL_EXECUTOR": TEST_GRAPHQL_EXECUTOR} if TEST_GRAPHQL_EXECUTOR else {}


def fresh_server_environment(workdir: Path) -> dict[str, str]:
    """The environment of a development server on the suite's backends, emptied first:
    PostgreSQL and Redis when configured, else a new SQLite file in `workdir`."""
    import asyncio

    from tests.helpers.backends import reset_postgres, reset_redis

    if TEST_DATABASE_URL:
        asyncio.run(reset_postgres(TEST_DATABASE_URL))
    if TEST_REDIS_URL:
        asyncio.run(reset_redis(TEST_REDIS_URL))
    return {
        "DATABASE_URL": TEST_DATABASE_URL or f"sqlite://{workdir / 'gatehouse.db'}",
        "SECRET_KEY": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "APP_ENV": "development",
        **({"REDIS_URL": TEST_REDIS_URL} if TEST_REDIS_URL else {}),
    }


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float = START_TIMEOUT, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    """Poll `predicate` until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


class GatehouseServer:
    """`python main.py serve` in a subprocess on its own port."""

    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **engine_environment(), **env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="gatehouse-", suffix=".log", delete=False)

    def start(self) -> GatehouseServer:
        """Start and wait until /healthz answers."""
        self.process = subprocess.Popen(
            [sys.executable, "main.py", "serve"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        healthy = wait_for(lambda: httpx.get(self.url + "/healthz", timeout=1).status_code == 200)
        if not healthy:
            self.stop()
            raise RuntimeError(f"server did not start:\n{self.output()}")
        return self

    def output(self) -> str:
        """What the server printed so far."""
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is not None:
            stop_process_group(self.process)

    def __enter__(self) -> GatehouseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        Path(self.log.name).unlink(missing_ok=True)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """End `process` and its group (started with `start_new_session=True`): SIGTERM, then
    SIGKILL after ten seconds; nothing when it has already exited."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL binary {name} not found")
    return found[-1]


def postgres_available() -> bool:
    """True when PostgreSQL server binaries are installed."""
    return bool(glob.glob("/usr/lib/postgresql/*/bin/postgres"))


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a spare port (never the shared one)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="gatehouse-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        """Create the cluster (trust auth, no fsync: it is thrown away)."""
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            _as_postgres([_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.dir / "log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=90,
        )

    def stop(self) -> None:
        """Stop the server immediately."""
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )

    def __enter__(self) -> PrivatePostgres:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A throw-away redis-server on a spare port (never the shared one)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for(lambda: _redis_ping(self.port)):
            raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        """Stop it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


@contextmanager
def servers(count: int, env: dict[str, str]) -> Iterator[list[GatehouseServer]]:
    """`count` Gatehouse servers sharing `env` (database, Redis, secret)."""
    started: list[GatehouseServer] = []
    try:
        for _ in range(count):
            server = GatehouseServer(env)
            started.append(server)
            server.start()
        yield started
    finally:
        for server in started:
            server.__exit__()
