"""Where the time of one request goes: py-spy on the benchmark server under wrk load.

    .venv/bin/python bench/profile.py                    # `me` by JWT and by session cookie
    .venv/bin/python bench/profile.py --rows jwt,token --seconds 20

Starts the server exactly as `bench/run.py` does (production settings, seeded SQLite,
pinned core), drives one row at a time with wrk while `py-spy record` samples the server,
and prints, per row: the share of samples under each stage of a request (inclusive), and
the share by package of the innermost frame (self time). Raw stacks and a speedscope file
go to `bench/out/` (open the latter at https://www.speedscope.app).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import ME_QUERY, ROOT, Cores, Server, Wrk, base_env, log, obtain_credentials, single

OUT = ROOT / "bench" / "out"
SITE = Path(sysconfig.get_paths()["purelib"])

# Stages of one request, matched against frames "function (path:line)"; a sample counts
# for every stage found in its stack (inclusive time).
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("uvicorn + httptools (whole request cycle)", ("uvicorn/protocols/http/httptools_impl.py",)),
    ("  Starlette app/router", ("starlette/routing.py", "starlette/applications.py")),
    ("    view: GraphQLView.handle", ("handle (web/graphql.py", "handle (/work/main/web/graphql.py")),
    ("      Authenticator.authenticate (authentication)", ("authenticate (",)),
    ("        JWT verify (PyJWT)", ("verify (auth/strategy/jwt.py", "jwt/api_jwt.py", "jwt/api_jws.py")),
    ("        Tortoise / DB during authentication", ("@auth-db",)),
    ("        touch (last_used write)", ("touch (",)),
    ("        identity cache", ("identity_cache.py",)),
    ("      engine: Engine.execute (whole execution)", ("schema/engine/",)),
    ("          parse (graphql-core; ParserCache should skip it)", ("graphql/language/parser.py",)),
    (
        "          validate (graphql-core; ValidationCache should skip it)",
        ("graphql/validation/validate.py",),
    ),
    ("          extensions hooks", ("strawberry/extensions/",)),
    ("          graphql-core execute", ("graphql/execution/execute.py",)),
    ("          permission checks", ("strawberry/permission.py", "auth/permissions.py")),
    ("          resolvers (resolvers/)", ("resolvers/query.py",)),
    ("        process_result / JSON encode", ("process_result (", "json/encoder.py", "encode_json (")),
    ("      Starlette Request/Response objects", ("starlette/requests.py", "starlette/responses.py")),
    ("Tortoise ORM (anywhere)", ("tortoise/",)),
    ("  aiosqlite / sqlite3 / asyncpg", ("aiosqlite/", "asyncpg/")),
    ("asyncio / uvloop scheduling (outside a request)", ("@outside",)),
]


def _file_of(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "path/to/file.py"
    inside = frame[frame.rfind("(") + 1 : frame.rfind(")")]
    return inside.rsplit(":", 1)[0]


def _package(frame: str) -> str:
    path = _file_of(frame)
    first = path.split("/", 1)[0]
    if (SITE / first).exists() or (SITE / f"{first}.py").exists():
        return first
    if (ROOT / first).exists():
        return f"app: {first}/"
    return f"stdlib: {first}"


def summarise(raw: Path, top: int = 40) -> str:
    """Stage shares and self time by package, from py-spy's collapsed stacks."""
    stacks: list[tuple[list[str], int]] = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    total = sum(c for _, c in stacks) or 1
    stage_counts: Counter[str] = Counter()
    self_counts: Counter[str] = Counter()
    below_view: Counter[str] = Counter()
    for frames, count in stacks:
        names = [re.sub(r":\d+\)$", ")", f) for f in frames]
        for index, name in enumerate(names):
            if name.startswith("GraphQLView.handle ("):
                for function in dict.fromkeys(names[index + 1 :]):
                    below_view[function] += count
                break
        joined = ";".join(frames)
        in_auth = "authenticate (" in joined
        for name, markers in STAGES:
            hit = False
            for marker in markers:
                if marker == "@auth-db":
                    auth_part = joined[joined.find("authenticate (") :] if in_auth else ""
                    hit = "tortoise/" in auth_part or "aiosqlite/" in auth_part or "asyncpg/" in auth_part
                elif marker == "@outside":
                    hit = "httptools_impl.py" not in joined
                else:
                    hit = marker in joined
                if hit:
                    break
            if hit:
                stage_counts[name] += count
        self_counts[_package(frames[-1])] += count
    lines = [f"{total} samples (active time only)", "", "inclusive share by stage:"]
    for name, _ in STAGES:
        lines.append(f"  {100 * stage_counts[name] / total:5.1f}%  {name}")
    lines += ["", "self time by package of the innermost frame (top 15):"]
    for package, count in self_counts.most_common(15):
        lines.append(f"  {100 * count / total:5.1f}%  {package}")
    lines += ["", f"functions under the view, inclusive (top {top}):"]
    for function, count in below_view.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {function}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="jwt,cookie", help="comma-separated: jwt, cookie, token, basic")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--app", default="bench.app:app", help="the ASGI app uvicorn serves")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("bench: py-spy is missing: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2

    from bench.seed import seed
    from core.settings import Settings

    cores = Cores.choose()
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-profile-"))
    OUT.mkdir(exist_ok=True)
    env = {**base_env(12, None), "DATABASE_URL": f"sqlite://{workdir / 'bench.db'}"}
    env["BENCH_CEILING_FILE"] = str(workdir / "ceiling.json")
    settings = Settings.from_env(env)
    seeded = asyncio.run(seed(settings, 10))
    server = Server(env, cores, workdir, args.app)
    wrk = Wrk(cores, workdir)
    try:
        server.start()
        creds = obtain_credentials(server, seeded, settings.session_cookie_name)
        for row in args.rows.split(","):
            headers = getattr(creds, row)
            load = single(f"profile-{row}", ME_QUERY, headers, creds.answers["me"].decode())
            wrk.run(server, load, 16, 2)  # warm-up
            suffix = "" if args.app == "bench.app:app" else "-" + args.app.split(":")[0].rsplit(".", 1)[-1]
            raw = OUT / f"profile-{row}{suffix}.txt"
            log(f"profiling `me` by {row} for {args.seconds} s")
            spy = subprocess.Popen(
                [
                    *Cores.prefix(cores.load),
                    py_spy,
                    "record",
                    "--pid",
                    str(server.pid),
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(args.seconds),
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            result = wrk.run(server, load, 16, args.seconds)
            spy.wait(timeout=args.seconds + 30)
            print(
                f"\n== `me` by {row}: {result.rps:,.0f} req/s under py-spy, "
                f"{1e3 / result.rps:.2f} ms per request"
            )
            print(summarise(raw))
    finally:
        wrk.kill_all()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
