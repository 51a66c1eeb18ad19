"""Gatehouse benchmark: every figure as a ratio to the ceiling of its own stack, in one run.

    .venv/bin/python bench/run.py              # full run on SQLite (about 5 minutes)
    .venv/bin/python bench/run.py --quick      # short run (about 2 minutes)
    .venv/bin/python bench/run.py --postgres   # also on PostgreSQL (127.0.0.1:5432), +3 min
    .venv/bin/python bench/run.py --redis      # servers use Redis (127.0.0.1:6379, db 13)

How every row is measured: bench/results_template.md (the text RESULTS.md carries); how to
run it and the targets: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the app's packages, to seed through the services

BENCH = ROOT / "bench"
RESULTS_FILE = BENCH / "RESULTS.md"
WRK_SCRIPT = BENCH / "wrk.lua"
RESULTS_TEMPLATE = BENCH / "results_template.md"  # RESULTS.md but for its $placeholders
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/13"  # a database index of its own, flushed before and after

ME_QUERY = "query Me { me { id username email roles createdAt } }"
USERS_QUERY = (
    "query Users { users(first: 20) { totalCount pageInfo { hasNextPage endCursor } "
    "edges { cursor node { id username email roles createdAt } } } }"
)
# One page of 20 without `totalCount` (a count of every row, whatever the page): the first
# page and the last, whose costs keyset pagination keeps alike at any table size.
PAGE_QUERY = (
    "query Page($after: String) { users(first: 20, after: $after) { pageInfo { hasNextPage endCursor } "
    "edges { cursor node { id username email roles createdAt } } } }"
)
SCALE_ACCOUNTS = 1_000_000  # --scale: users with one API token each, by COPY
# --scale's memory rows: `me` by the API tokens of this many scale users, each once, RSS read
# at each mark; every answer is a scale user's own `me` (the Lua pattern's %1: the email is
# the username's), no two answers name the same user. The middle mark is where the identity
# cache is full (auth/identity_cache.py MAX_ENTRIES); the last is compared with it.
SCALE_TOKEN_MARKS = (10_000, 50_000, 100_000)
SCALE_TOKEN_CAP = 300  # seconds allowed to reach each mark (the first use of a token reads the database)
SCALE_ME_PATTERN = (
    '^{"data":{"me":{"id":"[%x%-]+","username":"(scale%d+)","email":"%1@example%.com",'
    '"roles":%[%],"createdAt":"[^"]+"}}}$'
)
SCALE_RSS_TARGET = 1.05  # RSS after the last mark at most this times RSS at the full cache's mark
# 100 resolutions of `User.email` (@isSelfOrHasRole), plus `users` itself (@hasRole, @hasScope).
# Aliases cannot do it: MAX_ALIASES is 30 and not configurable; a list needs none.
GATED_QUERY = "query Gated { users(first: 100) { edges { node { email } } } }"
# The same query on an ungated field: the gap between the two is 100 permission checks.
UNGATED_QUERY = "query Ungated { users(first: 100) { edges { node { username } } } }"
# A schema module's list (bench/shelf, served with SCHEMA_MODULES=bench.shelf): alice's 100
# shelf items, each judged by `IsOwnerOrHasRole` (the object-level check) as the field
# returns them; then the same list from a field without that check.
SHELF_QUERY = "query Shelf { shelf { id title position } }"
SHELF_UNJUDGED_QUERY = "query ShelfUnjudged { shelfUnjudged { id title position } }"
SHELF_MODULE = "bench.shelf"
LOGIN_MUTATION = "mutation Login($input: LoginInput!) { login(input: $input) { user { username } } }"
BEARER_LOGIN = (
    "mutation Login($input: LoginInput!) { login(input: $input) { accessToken user { username } } }"
)
CREATE_TOKEN = 'mutation { createApiToken(name: "bench", scopes: []) { token } }'
# Forward authentication (issue 13): no GraphQL; 204 with the user in `X-Auth-User-Id`.
VERIFY_PATH = "/auth/verify"
JWT_ALGORITHM = "EdDSA"  # the server's JWT_ALGORITHM (the default), named in the table

LOGIN_DRAIN = 1.5  # seconds: the logins in flight when wrk stops (at most 4 x 0.3 s of bcrypt)
BASE_HEADERS = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}
# What nginx `auth_request` sends along: a GET without a body.
VERIFY_HEADERS = {"X-Forwarded-Proto": "https"}
ALL_PARTS = frozenset(("throughput", "login", "latency", "memory"))


@dataclass(frozen=True)
class Plan:
    """Durations (seconds) and sizes of one run."""

    name: str
    warm: int  # warm-up of each row before its slices
    slice: int  # one slice of a row or of the ceiling
    rounds: int  # ceiling/row slice pairs per throughput row
    login_measure: int
    bcrypt_samples: int  # before and after the login row
    latency_slice: int
    latency_rounds: int
    memory_marks: tuple[int, int]  # GraphQL requests served at the two RSS readings
    mark_cap: int  # seconds allowed to reach each memory mark
    connections: int = 16
    latency_connections: int = 4
    login_connections: int = 4
    bulk_accounts: int = 300


FULL = Plan("full", 2, 2, 4, 15, 4, 3, 3, (10_000, 100_000), mark_cap=150)
QUICK = Plan("quick", 1, 1, 2, 6, 2, 2, 1, (10_000, 100_000), mark_cap=60)


# -- small helpers ---------------------------------------------------------------------


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def body_for(query: str, variables: dict[str, Any] | None = None) -> str:
    """The exact JSON body sent, by the checks and by wrk alike."""
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return json.dumps(payload, separators=(",", ":"))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str:
    """The path of `wrk`, installing the Debian package when possible; else exit non-zero."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "timeout": 300}
        if subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet).returncode != 0:
            subprocess.run(["apt-get", "update"], check=False, **quiet)
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet)
        found = shutil.which("wrk")
        if found:
            return found
    print(
        "bench: the load generator `wrk` is not installed.\n"
        "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk\n"
        "  macOS: brew install wrk\n"
        "  from source: https://github.com/wg/wrk (make, then put `wrk` on PATH)",
        file=sys.stderr,
    )
    raise SystemExit(2)


@dataclass(frozen=True)
class Cores:
    """Which cores the server and the load generator run on (empty: not pinned)."""

    server: tuple[int, ...]
    load: tuple[int, ...]

    @classmethod
    def choose(cls) -> Cores:
        available = sorted(os.sched_getaffinity(0))
        if shutil.which("taskset") is None or len(available) < 2:
            return cls((), ())
        # The server gets every core but the last; wrk and this harness get the last.
        return cls(tuple(available[:-1]), (available[-1],))

    @staticmethod
    def prefix(cores: tuple[int, ...]) -> list[str]:
        return ["taskset", "-c", ",".join(map(str, cores))] if cores else []


# The local services the servers use. In production they run on other machines; here they
# share this one, so they are kept off the server's cores as wrk is (PostgreSQL's backends
# inherit the postmaster's cores): their work is not what the rows measure.
SERVICE_COMMANDS = ("postgres", "redis-server")


@contextmanager
def services_off_server_cores(cores: Cores) -> Iterator[None]:
    """Pin every thread of PostgreSQL and Redis to the load cores for the run, then put
    back the cores each had (a process that is gone, or may not be moved, is left as is)."""
    saved: dict[int, set[int]] = {}
    if cores.load:
        for task in Path("/proc").glob("[0-9]*/task/[0-9]*"):
            try:
                if (task / "comm").read_text().strip() not in SERVICE_COMMANDS:
                    continue
                tid = int(task.name)
                saved[tid] = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, set(cores.load))
            except (OSError, ValueError):
                saved.pop(int(task.name), None)
        log(f"PostgreSQL and Redis ({len(saved)} threads) pinned to core(s) {cores.load} for the run")
    try:
        yield
    finally:
        for tid, affinity in saved.items():
            with suppress(OSError):
                os.sched_setaffinity(tid, affinity)


def machine() -> dict[str, str]:
    """CPU model, cores, memory, Python, OS and date, for RESULTS.md."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    load = os.getloadavg()
    return {
        "CPU": model,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        "wrk": (wrk_version.stdout or wrk_version.stderr).splitlines()[0].strip(),
        "load average at the end": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


class BcryptClock:
    """Times bcrypt checks at the server's cost factor, in this process."""

    def __init__(self, rounds: int) -> None:
        import bcrypt

        self._bcrypt = bcrypt
        self._password = b"x" * 44  # the length of the pre-hashed password the app feeds bcrypt
        self._hash = bcrypt.hashpw(self._password, bcrypt.gensalt(rounds=rounds))

    def once(self) -> float:
        start = time.perf_counter()
        self._bcrypt.checkpw(self._password, self._hash)
        return time.perf_counter() - start

    def on_cores(self, cores: tuple[int, ...], samples: int) -> list[float]:
        """`samples` timings from a thread pinned to `cores` (the server's, when pinned)."""
        times: list[float] = []

        def work() -> None:
            if cores:
                os.sched_setaffinity(0, set(cores))  # 0: this thread only
            self.once()  # not counted: the first check after a migration runs cold
            times.extend(self.once() for _ in range(samples))

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        return times


# -- the server ------------------------------------------------------------------------


class Server:
    """`uvicorn bench.app:app` with `main.py serve`'s options, pinned to the server cores."""

    def __init__(
        self, env: dict[str, str], cores: Cores, workdir: Path, app: str = "bench.app:app", workers: int = 1
    ) -> None:
        self.app = app
        self.workers = workers
        self.env = env
        self.cores = cores
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            *Cores.prefix(self.cores.server),
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--loop",
            "uvloop",
            # As `main.py serve` runs it (`cmd_serve`): the bounded httptools protocol, and
            # the app reading X-Forwarded-* itself from TRUSTED_PROXIES (127.0.0.1 by default).
            "--http",
            "core.http_protocol:BoundedHttpToolsProtocol",
            "--no-access-log",
            "--no-proxy-headers",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "3",
        ]
        if self.workers > 1:  # uvicorn's supervisor and its workers, all on the server cores
            command += ["--workers", str(self.workers)]
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log_file, stderr=log_file)
        self._wait_ready(timeout=60)

    def _wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start-up:\n{self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /healthz within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the server itself, or uvicorn's workers."""
        if self.workers == 1:
            return [self.pid]
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [int(child) for child in children]

    def rss_mib(self) -> float:
        """Resident memory of the largest worker (VmRSS), in MiB."""
        sizes = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        if not sizes:
            raise RuntimeError("no VmRSS")
        return max(sizes)

    def core_count(self) -> int:
        return len(os.sched_getaffinity(self.pid))

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


# -- wrk -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    """One HTTP request as wrk sends it."""

    path: str
    body: str
    headers: dict[str, str]
    method: str = "POST"


@dataclass
class Load:
    """A wrk run: what to send and what every answer must look like (bench/wrk.lua checks)."""

    name: str
    requests: list[Req]  # sent in rotation
    expect: str = ""  # the body every answer must equal ("exact") or match whole ("match")
    expect_mode: str = "status"  # "exact", "match" (a Lua pattern, its first capture counted) or "status"
    offset: int = 0  # where in the rotation each thread starts
    status: int = 200  # every answer's status
    header: tuple[str, str] | None = None  # a response header every answer must carry, exactly
    # When set, one request per line of this file: the first request with `Authorization` set
    # to `credential_prefix` and the line (100,000 API tokens, say, not 100,000 requests).
    credentials_file: str = ""
    credential_prefix: str = ""

    @property
    def is_graphql(self) -> bool:
        return any(r.path == "/graphql" for r in self.requests)

    def script_args(self, workdir: Path, max_requests: int = 0, stop_file: str = "") -> list[str]:
        """bench/wrk.lua's arguments: `key=value` pairs, the requests and the expected body in
        files of their own. A request is its request line, its header lines, a blank line and
        its body on one line (JSON bodies never hold a newline); the expected body is read whole."""
        stem = workdir / f"load-{self.name}-{secrets.token_hex(3)}"
        lines = []
        for r in self.requests:
            lines += [f"{r.method} {r.path}", *(f"{k}: {v}" for k, v in r.headers.items()), "", r.body]
        if any("\n" in line for line in lines):
            raise ValueError(f"{self.name}: a request line, header or body holds a newline")
        Path(f"{stem}.requests").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        Path(f"{stem}.expect").write_text(self.expect, encoding="utf-8")
        header, value = self.header or ("", "")
        named = {
            "requests": f"{stem}.requests",
            "expect": f"{stem}.expect",
            "mode": self.expect_mode,
            "status": self.status,
            "header": header.lower(),
            "header_value": value,
            "offset": self.offset,
            "credentials": self.credentials_file,
            "credential_prefix": self.credential_prefix,
            "max_requests": max_requests,
            "stop_file": stop_file,
        }
        return [f"{key}={value}" for key, value in named.items()]


@dataclass
class WrkResult:
    """What `done()` in wrk.lua reports, plus the derived figures."""

    data: dict[str, Any]

    @property
    def requests(self) -> int:
        return int(self.data["requests"])

    @property
    def seconds(self) -> float:
        return float(self.data["duration_us"]) / 1e6

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def bad(self) -> int:
        errors = ("bad", "connect_errors", "read_errors", "write_errors", "timeouts")
        return sum(int(self.data[k]) for k in errors)

    def ms(self, key: str) -> float:
        return float(self.data[key]) / 1000


class Wrk:
    """Runs wrk pinned to the load cores, and counts the GraphQL requests it sent."""

    def __init__(self, cores: Cores, workdir: Path) -> None:
        self.cores = cores
        self.workdir = workdir
        self.graphql_requests = 0
        self.running: list[subprocess.Popen[str]] = []

    def spawn(
        self,
        server: Server,
        load: Load,
        connections: int,
        seconds: int,
        max_requests: int = 0,
        stop_file: str = "",
    ) -> subprocess.Popen[str]:
        command = [
            *Cores.prefix(self.cores.load),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            server.base_url,
            "--",
            *load.script_args(self.workdir, max_requests, stop_file),
        ]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.graphql = load.is_graphql  # type: ignore[attr-defined]
        self.running.append(proc)
        return proc

    def collect(self, proc: subprocess.Popen[str], seconds: float) -> WrkResult:
        try:
            out, err = proc.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError("wrk did not finish in time") from None
        finally:
            if proc in self.running:
                self.running.remove(proc)
        for line in out.splitlines():
            if line.startswith("BENCHJSON "):
                result = WrkResult(json.loads(line[len("BENCHJSON ") :]))
                if proc.graphql:  # type: ignore[attr-defined]
                    self.graphql_requests += result.requests
                return result
        raise RuntimeError(f"wrk reported nothing (exit {proc.returncode}):\n{out}\n{err}")

    def run(self, server: Server, load: Load, connections: int, seconds: int) -> WrkResult:
        return self.collect(self.spawn(server, load, connections, seconds), seconds)

    def run_count(self, server: Server, load: Load, connections: int, count: int, cap: int) -> WrkResult:
        """Send `count` requests (or run for `cap` seconds if that comes first)."""
        stop_file = self.workdir / f"stop-{secrets.token_hex(4)}"
        proc = self.spawn(server, load, connections, cap, count, str(stop_file))
        deadline = time.monotonic() + cap + 5
        while proc.poll() is None and time.monotonic() < deadline:
            if stop_file.exists():
                proc.send_signal(signal.SIGINT)  # wrk then stops and reports
                break
            time.sleep(0.05)
        return self.collect(proc, cap)

    def kill_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
        self.running.clear()


# -- seeding and credentials -----------------------------------------------------------


@dataclass
class Credentials:
    """The headers for each way in, and the answers every row must get."""

    jwt: dict[str, str]
    cookie: dict[str, str]
    token: dict[str, str]
    basic: dict[str, str]
    admin_jwt: dict[str, str]
    answers: dict[str, bytes] = field(default_factory=dict)
    user_id: str = ""  # alice's, as `me` answers it and /auth/verify names it
    last_page: tuple[str, str] = ("", "")  # the body asking for the last page of users, its answer


def _post(server: Server, body: str, headers: dict[str, str] | None = None, path: str = "/graphql") -> Any:
    import httpx

    return httpx.post(
        server.base_url + path, content=body.encode(), headers={**BASE_HEADERS, **(headers or {})}, timeout=30
    )


def _answer(server: Server, query: str, headers: dict[str, str], what: str) -> bytes:
    response = _post(server, body_for(query), headers)
    if response.status_code != 200 or response.json().get("errors"):
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return bytes(response.content)


def sign_in(server: Server, login_name: str, password: str, transport: str) -> Any:
    """The `login` mutation's response (checked) for one account and transport."""
    variables = {"input": {"login": login_name, "password": password, "transport": transport}}
    response = _post(server, body_for(BEARER_LOGIN, variables))
    if response.status_code != 200 or response.json().get("errors"):
        raise RuntimeError(f"login {login_name} failed: {response.text[:300]}")
    return response


def access_token(server: Server, seeded: Any, algorithm: str, login_name: str = "") -> str:
    """An access token by a BEARER login, checked to be signed with `algorithm`."""
    import jwt

    response = sign_in(server, login_name or seeded.user_login, seeded.password, "BEARER")
    token = str(response.json()["data"]["login"]["accessToken"])
    signed_with = jwt.get_unverified_header(token).get("alg")
    if signed_with != algorithm:
        raise RuntimeError(f"the server signs access tokens with {signed_with}, not {algorithm}")
    return token


def check_verify(server: Server, headers: dict[str, str], user_id: str) -> None:
    """`GET /auth/verify` with `headers` answers 204 naming `user_id`, as each row checks."""
    import httpx

    response = httpx.get(server.base_url + VERIFY_PATH, headers={**VERIFY_HEADERS, **headers}, timeout=30)
    if response.status_code != 204 or response.headers.get("x-auth-user-id") != user_id:
        raise RuntimeError(
            f"{VERIFY_PATH}: HTTP {response.status_code}, X-Auth-User-Id "
            f"{response.headers.get('x-auth-user-id')!r}, not {user_id!r}"
        )


def obtain_credentials(server: Server, seeded: Any, cookie_name: str) -> Credentials:
    """Sign in through the GraphQL API the ways a client would, and check every way works."""
    access = access_token(server, seeded, JWT_ALGORITHM)
    jwt_headers = {"Authorization": f"Bearer {access}"}
    session_id = None
    cookie_login = sign_in(server, seeded.user_login, seeded.password, "COOKIE")
    for header in cookie_login.headers.get_list("set-cookie"):
        if header.startswith(f"{cookie_name}="):
            session_id = header.split(";", 1)[0].split("=", 1)[1]
    if not session_id:
        raise RuntimeError(f"login with COOKIE set no {cookie_name} cookie")
    token = _post(server, body_for(CREATE_TOKEN), jwt_headers).json()["data"]["createApiToken"]["token"]
    basic = base64.b64encode(f"{seeded.user_login}:{seeded.password}".encode()).decode()
    admin_access = access_token(server, seeded, JWT_ALGORITHM, seeded.admin_login)
    creds = Credentials(
        jwt=jwt_headers,
        cookie={"Cookie": f"{cookie_name}={session_id}"},
        token={"Authorization": f"Token {token}"},
        basic={"Authorization": f"Basic {basic}"},
        admin_jwt={"Authorization": f"Bearer {admin_access}"},
    )
    me = _answer(server, ME_QUERY, creds.jwt, "me by JWT")
    if b'"username":"alice"' not in me:
        raise RuntimeError(f"me by JWT is not alice: {me[:200]!r}")
    for name in ("cookie", "token", "basic"):
        answer = _answer(server, ME_QUERY, getattr(creds, name), f"me by {name}")
        if answer != me:
            raise RuntimeError(f"me by {name} differs from me by JWT: {answer[:200]!r}")
    creds.user_id = str(json.loads(me)["data"]["me"]["id"])
    check_verify(server, creds.jwt, creds.user_id)
    creds.answers = {
        "me": me,
        "users": _answer(server, USERS_QUERY, creds.admin_jwt, "users as admin"),
        "users_first": _answer(server, PAGE_QUERY, creds.admin_jwt, "the first page of users"),
        "gated": _answer(server, GATED_QUERY, creds.admin_jwt, "100 gated fields"),
        "ungated": _answer(server, UNGATED_QUERY, creds.admin_jwt, "100 ungated fields"),
        "shelf": _answer(server, SHELF_QUERY, creds.jwt, "the module's shelf"),
        "shelf_unjudged": _answer(server, SHELF_UNJUDGED_QUERY, creds.jwt, "the shelf without the check"),
    }
    for key in ("shelf", "shelf_unjudged"):
        if creds.answers[key].count(b'"position"') != seeded.shelf_items or seeded.shelf_items != 100:
            raise RuntimeError(f"the module's {key} did not list alice's 100 items")
    if creds.answers["shelf"] != creds.answers["shelf_unjudged"].replace(b"shelfUnjudged", b"shelf"):
        raise RuntimeError("the shelf with and without its object-level check differ")
    if creds.answers["gated"].count(b'"email"') != min(100, seeded.user_count):
        raise RuntimeError("the gated query did not return 100 emails")
    return creds


def last_page(server: Server, creds: Credentials, database_url: str) -> tuple[str, str]:
    """The body asking for the last 20 users (after the 21st from the end) and its answer.

    The cursor is the one the server hands out for that row: on PostgreSQL the row is read
    from the database (walking a million rows page by page would take the whole run), on
    SQLite the pages are walked through the API."""
    after: str | None = None
    if database_url.startswith("postgres"):
        import asyncpg

        from services.users import encode_cursor

        async def read() -> Any:
            connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
            try:
                return await connection.fetchrow(
                    "SELECT id, created_at FROM users ORDER BY created_at DESC, id DESC OFFSET 20 LIMIT 1"
                )
            finally:
                await connection.close()

        found = asyncio.run(read())
        after = encode_cursor(type("Row", (), {"id": found["id"], "created_at": found["created_at"]})())
    else:
        cursors: list[str] = []
        while True:
            page = json.loads(_post(server, body_for(PAGE_QUERY, {"after": after}), creds.admin_jwt).content)
            cursors += [edge["cursor"] for edge in page["data"]["users"]["edges"]]
            if not page["data"]["users"]["pageInfo"]["hasNextPage"]:
                break
            after = cursors[-1]
        after = cursors[-21]
    body = body_for(PAGE_QUERY, {"after": after})
    response = _post(server, body, creds.admin_jwt)
    page = response.json()
    if response.status_code != 200 or page.get("errors") or len(page["data"]["users"]["edges"]) != 20:
        raise RuntimeError(f"the last page of users: HTTP {response.status_code} {response.text[:300]}")
    if page["data"]["users"]["pageInfo"]["hasNextPage"]:
        raise RuntimeError("the last page of users says more follow")
    return body, response.content.decode()


# -- databases -------------------------------------------------------------------------


@contextmanager
def sqlite_database(workdir: Path) -> Iterator[str]:
    yield f"sqlite://{workdir / 'bench.db'}"


@contextmanager
def postgres_database(env: dict[str, str]) -> Iterator[str]:
    """A fresh bench database on the local PostgreSQL, migrated; dropped afterwards."""
    import asyncpg

    name = f"gatehouse_bench_{os.getpid()}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"{PG_SERVER}/{name}"
    try:
        migrate = subprocess.run(
            [sys.executable, "main.py", "migrate"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"python main.py migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def redis_database(enabled: bool) -> Iterator[str | None]:
    """Redis database 13, flushed before and after, when `--redis` asks for it."""
    if not enabled:
        yield None
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


# -- the table -------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table."""

    db: str
    name: str
    measured: str
    ratio: float | None = None
    ratio_to: str = ""
    target: tuple[str, float] | None = None  # (">=" or "<=", bound)
    invalid: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "invalid: " + self.invalid if self.invalid else ""
        if self.invalid:
            return "INVALID: " + self.invalid
        assert self.ratio is not None
        op, bound = self.target
        passed = self.ratio >= bound if op == ">=" else self.ratio <= bound
        return "pass" if passed else "FAIL"


def production_label(workers: int) -> str:
    """The production table's name."""
    return f"Production: PostgreSQL + Redis, {workers} uvicorn worker(s)"


def render_table(rows: list[Row]) -> str:
    header = ["row", "measured", "ratio", "ratio to", "target", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        target = ""
        if row.target:
            target = f"{'at least' if row.target[0] == '>=' else 'at most'} {row.target[1]:g}"
        cells = [
            row.name,
            row.measured,
            f"{row.ratio:.3f}" if row.ratio is not None else "",
            row.ratio_to,
            target,
            row.verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- one backend -----------------------------------------------------------------------


# Rows of the throughput part, by the key `--rows` names them with; a row's ratio may need
# another row (`of floor`, `basic / jwt`, `gated / ungated`), which then runs too.
THROUGHPUT_ROWS = (
    "floor",
    "jwt",
    "jwt_hs256",
    "cookie",
    "token",
    "basic",
    "verify",
    "users",
    "users_first",
    "users_last",
    "gated",
    "ungated",
    "shelf",
    "shelf_unjudged",
)
ROW_NEEDS = {"jwt": ("floor",), "cookie": ("floor",), "token": ("floor",), "basic": ("jwt", "floor")}
ROW_NEEDS |= {"jwt_hs256": ("floor",)}
ROW_NEEDS |= {"gated": ("ungated",), "ungated": ("gated",)}
ROW_NEEDS |= {"users_first": ("users_last",), "users_last": ("users_first",)}
LAST_PAGE_TARGET = 1 / 1.5  # issue 16: the last page costs at most 1.5 times the first
ROW_NEEDS |= {"shelf": ("shelf_unjudged",), "shelf_unjudged": ("shelf",)}
GATED_TARGET = 0.9  # issue 12: 100 permission checks cost at most a tenth of the request
JWT_TARGET = 0.30  # `me` by JWT, whatever the algorithm (issue 13 kept HS256's target for EdDSA)
VERIFY_TARGET = 0.6  # issue 13: /auth/verify runs no GraphQL
USERS_TARGET = 0.10  # issue 16: a page of 20 users with totalCount, production (and at scale)
SCALE_KEEP = 0.9  # issue 16: at a million more users, these rows keep this share of their ratio


@dataclass
class Context:
    plan: Plan
    cores: Cores
    wrk: Wrk
    bcrypt: BcryptClock
    bcrypt_rounds: int
    started: float
    parts: frozenset[str] = ALL_PARTS
    app: str = "bench.app:app"
    rows_wanted: tuple[str, ...] = THROUGHPUT_ROWS
    rows: list[Row] = field(default_factory=list)
    logins_sent: int = 0
    workers: int = 1  # uvicorn workers of the backend being measured
    scale_accounts: int = 0  # more users (one API token each) in the production database
    production: bool = False  # the backend being measured is the production one


def bad_note(*results: WrkResult) -> str:
    notes = []
    for result in results:
        if result.bad:
            wrong = result.data["bad"] - result.data["status_errors"]
            notes.append(
                f"{result.bad} bad of {result.requests} (non-200: {result.data['status_errors']}, "
                f"wrong body: {max(wrong, 0)}, timeouts: {result.data['timeouts']})"
            )
    return "; ".join(notes)


@dataclass
class Paired:
    """A row measured in slices alternating with ceiling slices."""

    rps: float  # median of the row's slices
    ratio: float  # median of row slice / mean of the ceiling slices around it
    ceiling_rps: list[float]
    results: list[WrkResult]


def paired(ctx: Context, server: Server, load: Load, ceiling: Load) -> Paired:
    """Warm the row up, then alternate ceiling and row slices, starting and ending with
    the ceiling: each row slice is compared with the mean of the ceiling slices on both
    sides of it, so a machine that speeds up or slows down moves both sides alike."""
    plan = ctx.plan
    ctx.wrk.run(server, load, plan.connections, plan.warm)
    ratios, rows, ceilings, results = [], [], [], []
    before = ctx.wrk.run(server, ceiling, plan.connections, plan.slice)
    ceilings.append(before.rps)
    results.append(before)
    for _ in range(plan.rounds):
        row = ctx.wrk.run(server, load, plan.connections, plan.slice)
        after = ctx.wrk.run(server, ceiling, plan.connections, plan.slice)
        ratios.append(row.rps / ((before.rps + after.rps) / 2))
        rows.append(row.rps)
        ceilings.append(after.rps)
        results += [row, after]
        before = after
    outcome = Paired(statistics.median(rows), statistics.median(ratios), ceilings, results)
    log(
        f"  {load.name}: {outcome.rps:,.0f} req/s, {outcome.ratio:.3f} of ceiling "
        f"(slices {', '.join(f'{r:.3f}' for r in ratios)})"
    )
    return outcome


# The gated/ungated pair runs at ~100 req/s: a 2 s slice holds ~200 requests, and the 16
# requests in flight when wrk stops move a slice's count by up to 8 %. So the pair is timed
# head to head (no ceiling between), in longer slices, with the rate taken from the mean
# latency (Little's law for a closed loop: connections / mean latency), which no cut-off moves.
HEAD_TO_HEAD_SLICE = 4
HEAD_TO_HEAD_ROUNDS = 6
HEAD_TO_HEAD_CONNECTIONS = 4


def closed_loop_rate(result: WrkResult, connections: int) -> float:
    """Requests per second of a closed loop without think time, from its mean latency."""
    return connections / (float(result.data["mean_us"]) / 1e6)


def head_to_head(ctx: Context, server: Server, load: Load, baseline: Load) -> Paired:
    """`load` against `baseline` directly: baseline, load, baseline, ..., baseline slices,
    each `load` slice compared with the mean of the baseline slices on both sides of it."""
    seconds, rounds, connections = HEAD_TO_HEAD_SLICE, HEAD_TO_HEAD_ROUNDS, HEAD_TO_HEAD_CONNECTIONS
    ctx.wrk.run(server, load, connections, ctx.plan.warm)
    ctx.wrk.run(server, baseline, connections, ctx.plan.warm)
    before = ctx.wrk.run(server, baseline, connections, seconds)
    ratios, rates, baselines, results = [], [], [closed_loop_rate(before, connections)], [before]
    for _ in range(rounds):
        row = ctx.wrk.run(server, load, connections, seconds)
        after = ctx.wrk.run(server, baseline, connections, seconds)
        rate, after_rate = closed_loop_rate(row, connections), closed_loop_rate(after, connections)
        ratios.append(rate / ((baselines[-1] + after_rate) / 2))
        rates.append(rate)
        baselines.append(after_rate)
        results += [row, after]
    outcome = Paired(statistics.median(rates), statistics.median(ratios), baselines, results)
    log(
        f"  {load.name} against {baseline.name}: {outcome.rps:,.0f} req/s, {outcome.ratio:.3f} "
        f"(slices {', '.join(f'{r:.3f}' for r in ratios)})"
    )
    return outcome


def login_load(ctx: Context, seeded: Any, name: str) -> Load:
    """Logins over distinct accounts, each from its own client address."""
    requests = []
    for index, login_name in enumerate(seeded.bulk_logins):
        variables = {"input": {"login": login_name, "password": seeded.password, "transport": "COOKIE"}}
        headers = {**BASE_HEADERS, "X-Forwarded-For": f"10.77.{index // 250}.{index % 250 + 1}"}
        requests.append(Req("/graphql", body_for(LOGIN_MUTATION, variables), headers))
    return Load(
        name,
        requests,
        expect='^{"data":{"login":{"user":{"username":"(bench%d+)"}}}}$',
        expect_mode="match",
        offset=ctx.logins_sent,
    )


def mixed_load(creds: Credentials) -> Load:
    """Every `me` way in and `users(first: 20)`, in rotation (for the memory readings)."""
    requests = [
        Req("/graphql", body_for(ME_QUERY), {**BASE_HEADERS, **headers})
        for headers in (creds.jwt, creds.cookie, creds.token, creds.basic)
    ]
    requests.append(Req("/graphql", body_for(USERS_QUERY), {**BASE_HEADERS, **creds.admin_jwt}))
    return Load("mixed", requests)


def wanted_rows(names: str) -> tuple[str, ...]:
    """The throughput rows to run for `--rows a,b` (with the rows their ratios need), in
    the table's order; every row when `names` is empty."""
    asked = {name.strip() for name in names.split(",") if name.strip()}
    unknown = asked - set(THROUGHPUT_ROWS)
    if unknown:
        known = ", ".join(THROUGHPUT_ROWS)
        raise SystemExit(f"bench: unknown row(s) {', '.join(sorted(unknown))}; rows: {known}")
    if not asked:
        return THROUGHPUT_ROWS
    for name in list(asked):
        asked.update(ROW_NEEDS.get(name, ()))
    return tuple(name for name in THROUGHPUT_ROWS if name in asked)


def single(name: str, query: str, headers: dict[str, str], answer: str, path: str = "/graphql") -> Load:
    """One POST repeated, every answer checked byte for byte."""
    return Load(name, [Req(path, body_for(query), {**BASE_HEADERS, **headers})], answer, "exact")


def verify_load(creds: Credentials) -> Load:
    """`GET /auth/verify` by the access JWT: every answer 204 naming alice in X-Auth-User-Id."""
    request = Req(VERIFY_PATH, "", {**VERIFY_HEADERS, **creds.jwt}, method="GET")
    return Load("verify-jwt", [request], status=204, header=("X-Auth-User-Id", creds.user_id))


def hs256_row(ctx: Context, server: Server, seeded: Any, creds: Credentials) -> Paired:
    """`me` by an HS256 JWT: a second server on the same database with JWT_ALGORITHM=HS256
    (one algorithm signs per deployment), measured against its own ceiling."""
    other_env = {**server.env, "JWT_ALGORITHM": "HS256"}
    other = Server(other_env, ctx.cores, server.log_path.parent, ctx.app, ctx.workers)
    log(f"  starting a JWT_ALGORITHM=HS256 server on {other.base_url} for the HS256 row")
    try:
        other.start()
        headers = {"Authorization": f"Bearer {access_token(other, seeded, 'HS256')}"}
        if _answer(other, ME_QUERY, headers, "me by HS256 JWT") != creds.answers["me"]:
            raise RuntimeError("me by HS256 JWT differs from me by EdDSA JWT")
        me = creds.answers["me"].decode()
        ceiling = single("ceiling-hs256", ME_QUERY, headers, me, "/ceiling")
        ctx.wrk.run(other, ceiling, ctx.plan.connections, ctx.plan.warm)
        return paired(ctx, other, single("me-jwt-hs256", ME_QUERY, headers, me), ceiling)
    except BaseException:
        log(f"HS256 server log tail:\n{other.log_tail()}")
        raise
    finally:
        other.stop()


def throughput_rows(ctx: Context, server: Server, db: str, creds: Credentials, seeded: Any) -> None:
    me = creds.answers["me"].decode()
    ceiling = single("ceiling", ME_QUERY, creds.jwt, me, "/ceiling")
    loads = {
        "floor": single("floor", ME_QUERY, creds.jwt, me, "/floor"),
        "jwt": single("me-jwt", ME_QUERY, creds.jwt, me),
        "cookie": single("me-cookie", ME_QUERY, creds.cookie, me),
        "token": single("me-token", ME_QUERY, creds.token, me),
        "basic": single("me-basic", ME_QUERY, creds.basic, me),
        "verify": verify_load(creds),
        "users": single("users20", USERS_QUERY, creds.admin_jwt, creds.answers["users"].decode()),
        "users_first": single(
            "page-first", PAGE_QUERY, creds.admin_jwt, creds.answers["users_first"].decode()
        ),
        "users_last": Load(
            "page-last",
            [Req("/graphql", creds.last_page[0], {**BASE_HEADERS, **creds.admin_jwt})],
            creds.last_page[1],
            "exact",
        ),
        "gated": single("gated100", GATED_QUERY, creds.admin_jwt, creds.answers["gated"].decode()),
        "ungated": single("ungated100", UNGATED_QUERY, creds.admin_jwt, creds.answers["ungated"].decode()),
        "shelf": single("shelf100", SHELF_QUERY, creds.jwt, creds.answers["shelf"].decode()),
        "shelf_unjudged": single(
            "shelf100-unjudged", SHELF_UNJUDGED_QUERY, creds.jwt, creds.answers["shelf_unjudged"].decode()
        ),
    }
    log(
        f"{db}: throughput rows ({', '.join(ctx.rows_wanted)}): {ctx.plan.warm} s warm-up, then "
        f"{ctx.plan.rounds} x ({ctx.plan.slice} s ceiling + {ctx.plan.slice} s row)"
    )
    ctx.wrk.run(server, ceiling, ctx.plan.connections, ctx.plan.warm)
    got = {key: paired(ctx, server, loads[key], ceiling) for key in ctx.rows_wanted if key in loads}
    if "gated" in got:
        gated_vs_ungated = head_to_head(ctx, server, loads["gated"], loads["ungated"])
    # Measured last, on its own server: the rows above keep one process and its ceiling.
    hs256 = hs256_row(ctx, server, seeded, creds) if "jwt_hs256" in ctx.rows_wanted else None
    ceiling_rps = statistics.median(r for p in got.values() for r in p.ceiling_rps)
    ceiling_results = [r for p in got.values() for r in p.results[0::2]]

    def row(key: str, name: str, target: tuple[str, float] | None = None, p: Paired | None = None) -> Row:
        p = p or got[key]
        measured = f"{p.rps:,.0f} req/s"
        if key in ("jwt", "jwt_hs256", "cookie", "token"):
            measured += f" ({p.ratio / got['floor'].ratio:.2f} of floor)"
        return Row(db, name, measured, p.ratio, "ceiling", target, bad_note(*p.results[1::2]))

    rows = [
        Row(
            db,
            "ceiling: plain Starlette route in the same app, same bytes as `me`",
            f"{ceiling_rps:,.0f} req/s",
            1.0,
            "ceiling",
            invalid=bad_note(*ceiling_results),
        )
    ]
    if "floor" in got:
        rows.append(row("floor", "floor: bare Strawberry `me`, parser + validation caches, no auth"))
    if "jwt" in got:
        rows.append(row("jwt", f"`me` by {JWT_ALGORITHM} JWT (the default algorithm)", (">=", JWT_TARGET)))
    if hs256 is not None:
        name = "`me` by HS256 JWT (a JWT_ALGORITHM=HS256 server on the same database, its own ceiling)"
        rows.append(row("jwt_hs256", name, (">=", JWT_TARGET), hs256))
    bound = JWT_TARGET if ctx.production else 0.28  # issue 16: 0.30 for all three in production
    for key, name in (("cookie", "`me` by session cookie"), ("token", "`me` by API token")):
        if key in got:
            rows.append(row(key, name, (">=", bound)))
    if "basic" in got:
        rows.append(
            Row(
                db,
                "`me` by Basic",
                f"{got['basic'].rps:,.0f} req/s ({got['basic'].ratio:.3f} of ceiling, "
                f"{got['basic'].ratio / got['floor'].ratio:.2f} of floor)",
                got["basic"].ratio / got["jwt"].ratio,
                f"`me` by {JWT_ALGORITHM} JWT",
                (">=", 0.5),
                bad_note(*got["basic"].results[1::2]),
            )
        )
    if "verify" in got:
        name = f"`GET {VERIFY_PATH}` by {JWT_ALGORITHM} JWT (forward auth: 204, X-Auth-User-Id checked)"
        rows.append(row("verify", name, (">=", VERIFY_TARGET)))
    if "users" in got:
        target = (">=", USERS_TARGET) if ctx.production else None
        rows.append(row("users", "`users(first: 20)` as admin (JWT), with `totalCount`", target))
    if "users_first" in got:
        first, last = got["users_first"], got["users_last"]
        rows += [
            row("users_first", "first page: `users(first: 20)` without `totalCount`"),
            Row(
                db,
                "last page: `users(first: 20, after: <the 21st from the end>)`",
                f"{last.rps:,.0f} req/s ({last.ratio:.3f} of ceiling)",
                last.ratio / first.ratio,
                "first page (1 / cost ratio)",
                (">=", round(LAST_PAGE_TARGET, 3)),
                bad_note(*last.results[1::2]),
            ),
        ]
    if "gated" in got:
        rows += [
            row("ungated", "100 ungated fields: `users(first: 100) { edges { node { username } } }`, admin"),
            Row(
                db,
                "100 gated fields: the same on `email` (`@isSelfOrHasRole`: the gap is 100 checks)",
                f"{got['gated'].rps:,.0f} req/s ({got['gated'].ratio:.3f} of ceiling)",
                gated_vs_ungated.ratio,
                "the same query ungated, head to head",
                (">=", GATED_TARGET),
                bad_note(*got["gated"].results[1::2], *gated_vs_ungated.results),
            ),
        ]
    if "shelf" in got:
        rows += [
            row("shelf", "module (bench/shelf): alice's 100 shelf items, `@isOwnerOrHasRole` per item"),
            Row(
                db,
                "the same module list without the object-level check",
                f"{got['shelf_unjudged'].rps:,.0f} req/s ({got['shelf_unjudged'].ratio:.3f} of ceiling)",
                got["shelf"].ratio / got["shelf_unjudged"].ratio,
                "checked / unchecked",
                None,
                bad_note(*got["shelf_unjudged"].results[1::2]),
            ),
        ]
    ctx.rows += rows


def login_row(ctx: Context, server: Server, db: str, seeded: Any) -> None:
    """Login throughput against cores / one bcrypt check, timed on the server's core."""
    plan = ctx.plan
    log(f"{db}: login row, {plan.login_measure} s, one bcrypt check timed before and after")
    before = ctx.bcrypt.on_cores(ctx.cores.server, plan.bcrypt_samples)
    login = ctx.wrk.run(server, login_load(ctx, seeded, "login"), plan.login_connections, plan.login_measure)
    ctx.logins_sent += login.requests + plan.login_connections
    time.sleep(2)  # logins still in flight when wrk stops keep the server's core busy
    samples = before + ctx.bcrypt.on_cores(ctx.cores.server, plan.bcrypt_samples)
    bcrypt_seconds = statistics.median(samples)
    cores = server.core_count()
    limit = cores / bcrypt_seconds
    # A closed loop without think time: throughput = connections / mean latency
    # (Little's law), free of the ramp at the start and the cut at the end of the window.
    rate = plan.login_connections / (float(login.data["mean_us"]) / 1e6)
    log(
        f"  login: {rate:.2f}/s (Little), {login.rps:.2f}/s (counted), limit {limit:.2f}/s "
        f"({cores} core, bcrypt {', '.join(f'{s * 1000:.0f}' for s in samples)} ms), bad {login.bad}"
    )
    ctx.rows.append(
        Row(
            db,
            f"`login`, {plan.login_connections} concurrent, every request another account and IP",
            f"{rate:.2f} logins/s ({login.requests} in {plan.login_measure} s)",
            rate / limit,
            f"{cores} server core / one bcrypt check at cost {ctx.bcrypt_rounds} (median "
            f"{bcrypt_seconds * 1000:.0f} ms of {len(samples)}, {min(samples) * 1000:.0f} to "
            f"{max(samples) * 1000:.0f}) = {limit:.2f}/s",
            (">=", 0.85),
            bad_note(login),
        )
    )


def latency_rows(ctx: Context, server: Server, db: str, seeded: Any, creds: Credentials) -> None:
    """`me` by JWT p50/p99 alone and while logins run, in alternating slices."""
    plan = ctx.plan
    log(
        f"{db}: latency rows, {plan.latency_rounds} x ({plan.latency_slice} s idle "
        f"+ {plan.latency_slice} s with logins)"
    )
    load = single("me-latency", ME_QUERY, creds.jwt, creds.answers["me"].decode())
    conns = plan.latency_connections
    ctx.wrk.run(server, load, conns, plan.warm)
    idle, busy, background = [], [], []
    for _ in range(plan.latency_rounds):
        idle.append(ctx.wrk.run(server, load, conns, plan.latency_slice))
        logins = ctx.wrk.spawn(
            server, login_load(ctx, seeded, "login-bg"), plan.login_connections, plan.latency_slice + 2
        )
        try:
            time.sleep(1)  # logins in full swing before measuring
            busy.append(ctx.wrk.run(server, load, conns, plan.latency_slice))
        finally:
            background.append(ctx.wrk.collect(logins, plan.latency_slice + 2))
        ctx.logins_sent += background[-1].requests + plan.login_connections
        # The server is still hashing the logins wrk left in flight: let them finish, or
        # they land in the next idle slice and make "idle" look like "busy".
        time.sleep(LOGIN_DRAIN)

    def med(results: list[WrkResult], key: str) -> float:
        return statistics.median(r.ms(key) for r in results)

    ratio = statistics.median(b.ms("p99_us") / i.ms("p99_us") for i, b in zip(idle, busy, strict=True))
    logged_in = sum(r.requests for r in background)
    log(
        f"  idle p50 {med(idle, 'p50_us'):.2f} p99 {med(idle, 'p99_us'):.2f} ms; with logins p50 "
        f"{med(busy, 'p50_us'):.2f} p99 {med(busy, 'p99_us'):.2f} ms ({logged_in} logins)"
    )
    ctx.rows += [
        Row(
            db,
            f"`me` by JWT latency, idle ({conns} connections)",
            f"p50 {med(idle, 'p50_us'):.2f} ms, p99 {med(idle, 'p99_us'):.2f} ms",
            invalid=bad_note(*idle),
        ),
        Row(
            db,
            f"`me` by JWT latency while {plan.login_connections} connections log in",
            f"p50 {med(busy, 'p50_us'):.2f} ms, p99 {med(busy, 'p99_us'):.2f} ms ({logged_in} logins)",
            ratio,
            "idle p99",
            ("<=", 3),
            bad_note(*busy, *background),
        ),
    ]


def run_backend(
    ctx: Context, db: str, database_url: str, env: dict[str, str], workdir: Path, memory: bool
) -> None:
    """Seed, start, measure every row on one database, stop."""
    from bench.seed import Seeded
    from core.settings import Settings

    server_env = {**env, "DATABASE_URL": database_url}
    settings = Settings.from_env(server_env)
    log(f"{db}: seeding {ctx.plan.bulk_accounts + 2} accounts")
    seeding = subprocess.run(
        [sys.executable, "-m", "bench.seed", str(ctx.plan.bulk_accounts), str(ctx.scale_accounts)],
        cwd=ROOT,
        env=server_env,
        capture_output=True,
        text=True,
        timeout=120 + ctx.scale_accounts // 1000,
        check=False,
    )
    if seeding.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{seeding.stderr[-2000:]}")
    seeded = Seeded(**json.loads(seeding.stdout.strip().splitlines()[-1]))
    if seeded.scale_accounts:
        log(f"{db}: {seeded.scale_accounts:,} users and API tokens copied in {seeded.scale_seconds:.0f} s")
    ceiling_file = workdir / f"ceiling-{secrets.token_hex(3)}.json"
    server_env["BENCH_CEILING_FILE"] = str(ceiling_file)
    server = Server(server_env, ctx.cores, workdir, ctx.app, ctx.workers)
    ctx.wrk.graphql_requests = 0
    log(f"{db}: starting uvicorn ({ctx.workers} worker(s)) on {server.base_url}")
    try:
        server.start()
        creds = obtain_credentials(server, seeded, settings.session_cookie_name)
        creds.last_page = last_page(server, creds, database_url)
        ceiling_file.write_bytes(creds.answers["me"])
        for reference in ("/ceiling", "/floor"):
            if _post(server, body_for(ME_QUERY), creds.jwt, path=reference).content != creds.answers["me"]:
                raise RuntimeError(f"{reference} does not answer the bytes of `me`")
        marks: list[tuple[int, float]] = []
        if memory and "memory" in ctx.parts:
            marks_text = " and ".join(f"{mark:,}" for mark in ctx.plan.memory_marks)
            log(
                f"{db}: memory readings after {marks_text} GraphQL requests "
                f"(start {server.rss_mib():.1f} MiB)"
            )
            for mark in ctx.plan.memory_marks:
                missing = mark - ctx.wrk.graphql_requests
                if missing > 0:
                    ctx.wrk.run_count(
                        server, mixed_load(creds), ctx.plan.connections, missing, ctx.plan.mark_cap
                    )
                marks.append((ctx.wrk.graphql_requests, server.rss_mib()))
                log(f"  {marks[-1][1]:.1f} MiB after {marks[-1][0]:,}")
        if "throughput" in ctx.parts:
            throughput_rows(ctx, server, db, creds, seeded)
        if "login" in ctx.parts:
            login_row(ctx, server, db, seeded)
        if "latency" in ctx.parts:
            latency_rows(ctx, server, db, seeded, creds)
        if marks:
            memory_rows(ctx, server, db, marks)
        if memory and "memory" in ctx.parts and seeded.scale_accounts:
            distinct_tokens_rows(ctx, server, db, workdir)
    except BaseException:
        log(f"{db}: server log tail:\n{server.log_tail()}")
        raise
    finally:
        ctx.wrk.kill_all()
        server.stop()
        log(f"{db}: server stopped")


def measure(ctx: Context, db: str, workdir: Path, redis: bool, memory: bool, postgres: bool = True) -> None:
    """One backend, on a fresh database and a freshly flushed Redis (when `redis`): login
    counters and generations of the backend before would otherwise rate-limit or confuse it."""
    with redis_database(redis) as redis_url:
        env = base_env(ctx.bcrypt_rounds, redis_url)
        with postgres_database(env) if postgres else sqlite_database(workdir) as url:
            run_backend(ctx, db, url, env, workdir, memory)


def distinct_tokens_rows(ctx: Context, server: Server, db: str, workdir: Path) -> None:
    """Worker RSS after each of SCALE_TOKEN_MARKS `me` requests, each by the API token of
    another scale user (wrk reads them from a file of tokens): bounded by the identity
    cache's size limit, since a token used once fills only its map of owners."""
    from auth.identity_cache import MAX_ENTRIES
    from bench.seed import scale_token

    # Each worker has its own cache and gets about its share of the tokens: the marks are
    # per worker. Requests in flight when wrk stops at a mark are skipped past (a margin of
    # a request per connection), so no token is sent twice.
    targets = [mark * ctx.workers for mark in SCALE_TOKEN_MARKS]
    margin = ctx.plan.connections
    tokens = workdir / "scale-tokens.txt"
    count = targets[-1] + margin * len(targets)
    tokens.write_text("".join(scale_token(i) + "\n" for i in range(count)))
    request = Req("/graphql", body_for(ME_QUERY), BASE_HEADERS)
    log(f"{db}: RSS by {targets[-1]:,} distinct API tokens (start {server.rss_mib():.1f} MiB)")
    marks, results, sent, offset = [], [], 0, 0
    for mark in targets:
        load = Load("me-scale-tokens", [request], SCALE_ME_PATTERN, "match", offset=offset)
        load.credentials_file, load.credential_prefix = str(tokens), "Token "
        results.append(ctx.wrk.run_count(server, load, ctx.plan.connections, mark - sent, SCALE_TOKEN_CAP))
        sent += results[-1].requests
        offset += results[-1].requests + margin
        marks.append((sent, server.rss_mib()))
        log(f"  {marks[-1][1]:.1f} MiB after {sent:,} ({results[-1].rps:,.0f} req/s, {results[-1].bad} bad)")
    (first, first_rss), (full, full_rss), (last, last_rss) = marks
    # Good answers naming a user that an earlier answer of the same run named already.
    repeats = sum(r.data["responses"] - r.data["bad"] - r.data["distinct"] for r in results)
    repeated = f"{repeats} answers repeated a user" if repeats else ""
    invalid = "; ".join(note for note in (bad_note(*results), repeated) if note)
    if full / ctx.workers < MAX_ENTRIES:
        invalid = "; ".join(n for n in (invalid, f"the cache was not full after {full:,}") if n)
    what = "`me` requests, each by another scale user's API token"
    ctx.rows += [
        Row(db, f"worker RSS after {first:,} {what}", f"{first_rss:.1f} MiB", invalid=invalid),
        Row(
            db,
            f"worker RSS after {full:,} {what} (the identity cache full: it keeps at most "
            f"{MAX_ENTRIES:,} credentials' owners)",
            f"{full_rss:.1f} MiB",
            invalid=invalid,
        ),
        Row(
            db,
            f"worker RSS after {last:,} {what}",
            f"{last_rss:.1f} MiB ({last_rss - full_rss:+.1f} MiB)",
            last_rss / full_rss,
            f"after {full:,}",
            ("<=", SCALE_RSS_TARGET),
            invalid,
        ),
    ]


def scale_kept_rows(rows: list[Row], base_db: str, scale_db: str) -> list[Row]:
    """`me` by each credential and `login` at scale over the same row on the 300-user
    database (issue 16: at least SCALE_KEEP), added to the scale table."""
    base = {row.name: row for row in rows if row.db == base_db}
    kept = []
    for row in [r for r in rows if r.db == scale_db]:
        me = row.name.startswith("`me` by ") and row.ratio_to == "ceiling"
        if not (me or row.name.startswith("`login`")) or row.name not in base:
            continue
        earlier = base[row.name]
        if row.ratio is None or earlier.ratio is None:
            continue
        invalid = "; ".join(note for note in (earlier.invalid, row.invalid) if note)
        kept.append(
            Row(
                scale_db,
                f"{row.name}: at {SCALE_ACCOUNTS:,} more users",
                f"{row.ratio:.3f} here, {earlier.ratio:.3f} on 300 users",
                row.ratio / earlier.ratio,
                "the same row on 300 users",
                (">=", SCALE_KEEP),
                invalid,
            )
        )
    return kept


def memory_rows(ctx: Context, server: Server, db: str, marks: list[tuple[int, float]]) -> None:
    """The readings at the two marks (the target compares them), and one more at the end,
    after every other row, logins included."""
    (first, first_rss), (second, second_rss) = marks
    _, last = ctx.plan.memory_marks
    short = "" if second >= last else f" (the time cap allowed {second:,} of {last:,})"
    served, rss = ctx.wrk.graphql_requests, server.rss_mib()
    log(f"  {rss:.1f} MiB at the end, after {served:,}")
    ctx.rows += [
        Row(db, f"server RSS after {first:,} GraphQL requests", f"{first_rss:.1f} MiB"),
        Row(
            db,
            f"server RSS after {second:,} GraphQL requests{short}",
            f"{second_rss:.1f} MiB",
            second_rss / first_rss,
            f"after {first:,}",
            ("<=", 1.1),
        ),
        Row(
            db,
            f"server RSS at the end of the run, after {served:,} GraphQL requests and the logins",
            f"{rss:.1f} MiB",
            rss / first_rss,
            f"after {first:,}",
        ),
    ]


# -- main ------------------------------------------------------------------------------


def base_env(bcrypt_rounds: int, redis_url: str | None) -> dict[str, str]:
    """The server's environment: production settings, nothing inherited that Gatehouse reads."""
    kept = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in kept}
    env.update(
        {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "BCRYPT_ROUNDS": str(bcrypt_rounds),
            "ACCESS_TOKEN_TTL": "3600",  # outlives the run
            "JWT_ALGORITHM": JWT_ALGORITHM,
            "PYTHONPATH": str(ROOT),
            "SCHEMA_MODULES": SHELF_MODULE,
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def write_results(
    tables: dict[str, str], info: dict[str, str], ctx: Context, command: str, elapsed: float, redis: bool
) -> None:
    """RESULTS.md: bench/results_template.md filled with this run's tables, machine and plan."""
    from auth.identity_cache import MAX_ENTRIES

    plan = ctx.plan
    values = {
        **asdict(plan),
        "command": command,
        "elapsed": f"{elapsed:.0f}",
        "machine": "\n".join(f"- {k}: {v}" for k, v in info.items()),
        "server_cores": ",".join(map(str, ctx.cores.server)) or "not pinned",
        "load_cores": ",".join(map(str, ctx.cores.load)) or "not pinned",
        "tables": "\n\n".join(f"## {name}\n\n{table}" for name, table in tables.items()),
        "bcrypt_rounds": ctx.bcrypt_rounds,
        "sqlite_redis": f"Redis at {REDIS_URL}" if redis else "no Redis",
        "redis_url": REDIS_URL,
        "scale_accounts": f"{SCALE_ACCOUNTS:,}",
        "me_query": ME_QUERY,
        "jwt_algorithm": JWT_ALGORITHM,
        "verify_path": VERIFY_PATH,
        "h2h_rounds": HEAD_TO_HEAD_ROUNDS,
        "h2h_slice": HEAD_TO_HEAD_SLICE,
        "h2h_connections": HEAD_TO_HEAD_CONNECTIONS,
        "gated_target": f"{GATED_TARGET:g}",
        "shelf_module": SHELF_MODULE,
        "login_drain": LOGIN_DRAIN,
        "first_mark": f"{plan.memory_marks[0]:,}",
        "scale_marks": ", ".join(f"{mark:,}" for mark in SCALE_TOKEN_MARKS),
        "scale_full": f"{SCALE_TOKEN_MARKS[1]:,}",
        "scale_last": f"{SCALE_TOKEN_MARKS[-1]:,}",
        "scale_pattern": SCALE_ME_PATTERN,
        "max_entries": f"{MAX_ENTRIES:,}",
        "second_mark": f"{plan.memory_marks[1]:,}",
    }
    RESULTS_FILE.write_text(string.Template(RESULTS_TEMPLATE.read_text()).substitute(values))


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what it started."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short run (about 2 minutes)")
    parser.add_argument(
        "--postgres", action="store_true", help="also run against PostgreSQL on 127.0.0.1:5432"
    )
    parser.add_argument("--redis", action="store_true", help=f"servers use Redis ({REDIS_URL}, flushed)")
    parser.add_argument(
        "--production",
        action="store_true",
        help="also the production table: PostgreSQL + Redis, one uvicorn worker per server core",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help=f"the production database also holds {SCALE_ACCOUNTS:,} users with an API token each "
        "(COPY, about a minute); implies --production",
    )
    parser.add_argument(
        "--skip-sqlite",
        action="store_true",
        help="leave out the SQLite table (experiments with --production or --postgres; implies --no-write)",
    )
    parser.add_argument(
        "--bcrypt-rounds", type=int, default=12, help="BCRYPT_ROUNDS of the server (default 12)"
    )
    parser.add_argument("--no-write", action="store_true", help="print the table without writing RESULTS.md")
    parser.add_argument(
        "--only",
        default="throughput,login,latency,memory",
        help="comma-separated parts to run (for experiments; implies --no-write)",
    )
    parser.add_argument(
        "--rows",
        default="",
        help=f"comma-separated throughput rows ({', '.join(THROUGHPUT_ROWS)}; with the rows their "
        "ratios need; experiments, implies --no-write)",
    )
    parser.add_argument(
        "--app",
        default="bench.app:app",
        help="ASGI app for uvicorn (experiments; must mount /ceiling and /floor; implies --no-write)",
    )
    args = parser.parse_args(argv)
    args.production = args.production or args.scale

    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    ensure_wrk()
    plan = QUICK if args.quick else FULL
    cores = Cores.choose()
    if cores.load:
        os.sched_setaffinity(0, set(cores.load))  # the harness stays off the server's cores
    else:
        log("taskset unavailable or a single core: server and load are not pinned")
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
    parts = frozenset(p.strip() for p in args.only.split(",") if p.strip())
    ctx = Context(
        plan,
        cores,
        Wrk(cores, workdir),
        BcryptClock(args.bcrypt_rounds),
        args.bcrypt_rounds,
        started,
        parts,
        args.app,
        wanted_rows(args.rows),
    )
    experiment = args.app != "bench.app:app" or parts != ALL_PARTS or bool(args.rows) or args.skip_sqlite
    production = production_label(len(cores.server) or 1)
    with services_off_server_cores(cores):
        try:
            if not args.skip_sqlite:
                measure(ctx, "SQLite", workdir, args.redis, memory=True, postgres=False)
            if args.postgres:
                measure(ctx, "PostgreSQL", workdir, args.redis, memory=args.skip_sqlite)
            if args.production:
                # One worker per server core: on 2 cores that is 1 worker on core 0 and wrk on
                # core 1 (wrk needs a core of its own, or its own load is what gets measured).
                ctx.workers, ctx.production = len(cores.server) or 1, True
                measure(ctx, production, workdir, redis=True, memory=True)
                if args.scale:  # the same rows on a database of a million more users
                    ctx.scale_accounts = SCALE_ACCOUNTS
                    scale = f"{production}, {SCALE_ACCOUNTS:,} more users"
                    measure(ctx, scale, workdir, True, memory=True)
                    ctx.scale_accounts = 0
                    ctx.rows += scale_kept_rows(ctx.rows, production, scale)
                ctx.workers, ctx.production = 1, False
        finally:
            ctx.wrk.kill_all()
            shutil.rmtree(workdir, ignore_errors=True)

    backends = dict.fromkeys(row.db for row in ctx.rows)  # in the order they ran
    tables = {db: render_table([row for row in ctx.rows if row.db == db]) for db in backends}
    for db, table in tables.items():
        print(f"\n{db}\n{table}")
    flags = [
        f
        for f, on in (
            ("--quick", args.quick),
            ("--postgres", args.postgres),
            ("--redis", args.redis),
            ("--production", args.production and not args.scale),
            ("--scale", args.scale),
        )
        if on
    ]
    if args.bcrypt_rounds != 12:
        flags.append(f"--bcrypt-rounds {args.bcrypt_rounds}")
    command = " ".join([".venv/bin/python bench/run.py", *flags])
    elapsed = time.monotonic() - started
    if not args.no_write and not experiment:
        write_results(tables, machine(), ctx, command, elapsed, args.redis)
        log(f"wrote {RESULTS_FILE.relative_to(ROOT)} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
