"""The container files (contract section 14): `.env.example` lists every variable Gatehouse
reads and no other, `compose.yaml` is a valid Compose file that wires PostgreSQL, Redis, a
one-shot migration and the server with health checks, and the `Dockerfile` runs production
as a non-root user from files that hold no GraphiQL asset.

No Docker engine runs where the suite runs, so the image is not built here. Instead the
Dockerfile is read with BuildKit's own parser (the `dockerfile` package), the files its
`COPY` lines take (less `.dockerignore`) are laid out as they would be in the image, and its
`CMD` is run from them, in production, against a real server process.
"""

from __future__ import annotations

import fnmatch
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dockerfile
import httpx
import pytest
import yaml

from core.settings import Settings
from tests.helpers import REGISTER, STRONG_PASSWORD
from tests.helpers.processes import ROOT, free_port, wait_for

ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
# Where .env.example's variables for compose.yaml alone begin.
COMPOSE_ONLY = "# --- Read by compose.yaml, not by Gatehouse"
STRONG = "Jq2cVxv0m7rKp9sZ1bT4nYw8eLhA3dUf6gQiR5oNzXc"


class RecordingEnvironment(dict[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def variables_gatehouse_reads() -> set[str]:
    """What `Settings.from_env` looks up, in development and in production, and every name
    core/settings.py hands Starlette's Config (a variable read only in some case counts)."""
    asked: set[str] = set()
    for values in ({}, {"APP_ENV": "production", "SECRET_KEY": STRONG, "ALLOWED_HOSTS": "a.example"}):
        env = RecordingEnvironment(values)
        Settings.from_env(env, secret_file=Path(os.devnull))
        asked |= env.asked
    modules = RecordingEnvironment({})
    Settings.schema_modules_from_env(modules)
    source = (ROOT / "core" / "settings.py").read_text()
    named = set(re.findall(r'\(config, "([A-Z][A-Z0-9_]*)"', source))
    return asked | modules.asked | named


def example_variables() -> tuple[set[str], set[str]]:
    """The names `.env.example` lists (set or commented out): Gatehouse's, then compose.yaml's."""
    text = ENV_EXAMPLE.read_text()
    gatehouse, _, compose = text.partition(COMPOSE_ONLY)
    pattern = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(gatehouse)), set(pattern.findall(compose))


# -- .env.example ------------------------------------------------------------------------


def test_env_example_lists_every_variable_gatehouse_reads_and_no_other():
    read = variables_gatehouse_reads()
    listed, _ = example_variables()

    assert "SECRET_KEY" in read and "DATABASE_URL" in read  # the recording works
    assert read - listed == set(), f"read by Settings but missing from .env.example: {sorted(read - listed)}"
    assert listed - read == set(), f"in .env.example but never read: {sorted(listed - read)}"


def test_env_example_names_compose_variables_only_in_their_own_section():
    read = variables_gatehouse_reads()
    _, for_compose = example_variables()
    compose = COMPOSE.read_text()

    assert for_compose == {"POSTGRES_PASSWORD"}
    assert not for_compose & read
    assert all(f"${{{name}" in compose for name in for_compose)


def test_env_example_lists_each_variable_once():
    names = re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE)
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_a_dotenv_copied_from_the_example_starts_with_the_defaults(tmp_path: Path, monkeypatch):
    """`cp .env.example .env` with a key set: every commented line keeps its default."""
    for name in variables_gatehouse_reads():
        monkeypatch.delenv(name, raising=False)
    text = ENV_EXAMPLE.read_text().replace("\nSECRET_KEY=\n", f"\nSECRET_KEY={STRONG}\n")
    (tmp_path / ".env").write_text(text)
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env()

    assert settings.secret_key.reveal() == STRONG
    assert settings == Settings.from_env({"SECRET_KEY": STRONG})


# -- compose.yaml ------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_yaml_is_valid_under_the_compose_specification():
    checker = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_starts_gatehouse_after_migrating_with_postgresql_and_redis_healthy():
    services = compose()["services"]

    assert set(services) == {"postgres", "redis", "migrate", "gatehouse"}
    for name in ("postgres", "redis", "gatehouse"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    server = services["gatehouse"]
    assert server["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["command"][-1] == "migrate"
    environment = server["environment"]
    assert environment["APP_ENV"] == "production"
    assert environment["DATABASE_URL"].startswith("postgres://gatehouse:${POSTGRES_PASSWORD")
    assert environment["DATABASE_URL"].endswith("@postgres:5432/gatehouse")
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert services["migrate"]["environment"] == environment  # the same database


def test_compose_sets_only_variables_gatehouse_reads():
    environment = compose()["services"]["gatehouse"]["environment"]
    assert set(environment) - variables_gatehouse_reads() == set()


def test_compose_publishes_no_database_and_the_server_on_loopback_only():
    services = compose()["services"]
    assert "ports" not in services["postgres"] and "ports" not in services["redis"]
    assert services["gatehouse"]["ports"] == ["127.0.0.1:8000:8000"]


# -- Dockerfile ---------------------------------------------------------------------------


def final_stage() -> list[dockerfile.Command]:
    commands = list(dockerfile.parse_file(str(DOCKERFILE)))
    starts = [i for i, command in enumerate(commands) if command.cmd == "FROM"]
    return commands[starts[-1] :]


def instruction(name: str) -> list[dockerfile.Command]:
    return [command for command in final_stage() if command.cmd == name]


def image_environment() -> dict[str, str]:
    environment: dict[str, str] = {}
    for command in instruction("ENV"):
        values = command.value
        environment.update(zip(values[::2], values[1::2], strict=True))
    return environment


def test_the_image_runs_as_a_non_root_user():
    users = instruction("USER")
    assert users, "no USER: the server would run as root"
    user = users[-1].value[0].split(":")[0]
    assert user not in ("root", "0")
    assert final_stage().index(users[-1]) > max(final_stage().index(c) for c in instruction("RUN"))


def test_the_image_runs_production():
    assert image_environment()["APP_ENV"] == "production"


def test_the_image_has_a_health_check_and_a_command_in_exec_form():
    (health,) = instruction("HEALTHCHECK")
    (command,) = instruction("CMD")
    assert health.json and health.value[0] == "CMD" and "/healthz" in health.value[-1]
    compile(health.value[-1], "HEALTHCHECK", "exec")  # the probe is Python that parses
    assert command.json, "shell form: signals would reach /bin/sh, not the server"


def dockerignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    patterns = [line.strip("/") for line in lines if line and not line.startswith("#")]
    # The matcher below knows literal names, `*` within a name and `**` for any depth:
    # Docker's own rules for exactly these forms.
    assert not any(p.startswith("!") or "[" in p or "?" in p for p in patterns), patterns
    return patterns


def _matches(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], head) and _matches(rest, path[1:])


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `relative` (a path in the context) out: it or a folder above it
    matches a pattern."""
    parts = relative.split("/")
    return any(_matches(p.split("/"), parts[:i]) for p in patterns for i in range(1, len(parts) + 1))


def image_files() -> Iterator[tuple[Path, str]]:
    """(file in the build context, its path in the image) for every file the final stage's
    `COPY` lines take from the context."""
    patterns = dockerignore_patterns()
    workdir = "/"
    for command in final_stage():
        if command.cmd == "WORKDIR":
            workdir = os.path.join(workdir, command.value[0])
        if command.cmd != "COPY" or any(flag.startswith("--from") for flag in command.flags):
            continue
        *sources, destination = command.value
        target = os.path.normpath(os.path.join(workdir, destination))
        for source in sources:
            origin = ROOT / source
            files = [origin] if origin.is_file() else sorted(p for p in origin.rglob("*") if p.is_file())
            for path in files:
                relative = path.relative_to(ROOT).as_posix()
                if ignored(relative, patterns):
                    continue
                inside = path.relative_to(origin).as_posix() if origin.is_dir() else path.name
                yield path, f"{target}/{inside}"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's files (those the Dockerfile copies, less .dockerignore) under a folder."""
    root = tmp_path_factory.mktemp("image")
    for source, inside in image_files():
        target = root / inside.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return root


def test_the_image_holds_no_graphiql_asset_no_test_and_no_local_state(image: Path):
    held = {p.relative_to(image).as_posix() for p in image.rglob("*") if p.is_file()}

    assert "app/main.py" in held and "app/schema/graphiql.py" in held
    assert not [p for p in held if p.startswith("app/schema/static/")]
    assert not [p for p in held if "/tests/" in p or p.startswith("app/bench/")]
    assert not [p for p in held if "__pycache__" in p or p.endswith((".db", ".secret_key", ".env"))]


def test_a_command_run_from_the_image_imports_gatehouse_from_the_image(image: Path):
    """What the tests below run is the image's code, not the checkout's (installed editable)."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import schema.graphiql; print(schema.graphiql.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(image / "app")], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == str(image / "app" / "schema" / "graphiql.py"), done.stderr


def test_the_dockerignore_matcher_follows_dockers_rules():
    patterns = ["schema/static/graphiql", "**/__pycache__", "*.db"]
    assert ignored("schema/static/graphiql/graphiql.min.js", patterns)
    assert ignored("auth/strategy/__pycache__/x.pyc", patterns)
    assert ignored("gatehouse.db", patterns)
    assert not ignored("models/gatehouse.db", patterns)  # `*` stays within the top folder
    assert not ignored("schema/static/graphiql.html", patterns)


def image_command(image: Path, command: list[str]) -> list[str]:
    """`command` as it would run in the image, with this suite's Python and the image's
    files under `image`."""
    assert command[0] == "python", command
    return [
        sys.executable,
        *(str(image / part[1:]) if part.startswith("/app/") else part for part in command[1:]),
    ]


@pytest.mark.parametrize(
    "command",
    [instruction("CMD")[0].value, compose()["services"]["migrate"]["command"]],
    ids=["dockerfile-cmd", "compose-migrate"],
)
def test_the_images_commands_are_commands_of_gatehouse(image: Path, command: tuple[str, ...]):
    done = subprocess.run(
        [*image_command(image, list(command)), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python main.py {command[-1]}"), done.stdout


@pytest.mark.server
def test_the_image_serves_production_without_the_graphiql_assets(image: Path):
    (command,) = instruction("CMD")
    (workdir,) = [c.value[0] for c in instruction("WORKDIR")][-1:]
    data = image / workdir.lstrip("/")
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "COVERAGE_PROCESS_START")},
        **image_environment(),
        "PATH": os.environ["PATH"],
        "SECRET_KEY": secrets.token_urlsafe(48),
        "HOST": "127.0.0.1",  # the image's 0.0.0.0 would need ALLOWED_HOSTS
        "PORT": str(port),
    }
    log = data / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            image_command(image, list(command.value)), cwd=data, env=environment, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: httpx.get(url + "/healthz", timeout=1).status_code == 200), log.read_text()
        account = {"username": "imaged", "email": "imaged@example.com", "password": STRONG_PASSWORD}
        registered = httpx.post(
            url + "/graphql", json={"query": REGISTER, "variables": {"input": account}}, timeout=30
        )
        page = httpx.get(url + "/graphql", headers={"Accept": "text/html"}, timeout=10)
        asset = httpx.get(url + "/graphiql/static/graphiql.min.js", timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=20)

    assert registered.status_code == 200, registered.text
    assert registered.json()["data"]["register"]["user"]["username"] == "imaged"
    assert page.status_code == 406  # production has no IDE to open
    assert asset.status_code == 404
    assert (data / "gatehouse.db").exists()  # the default database, in the one writable folder
    assert "Traceback" not in log.read_text()
