"""Real GraphQL-over-HTTP clients against a real uvicorn server (contract section 6).

Two node programs in `tests/clients/` do the talking: `audit.mjs` runs the `graphql-http`
audit suite (`serverAudits`, the reference for the specification) and `apollo.mjs` is an
Apollo Client 4 application that reports what the *application* receives (a
`CombinedGraphQLErrors` with `extensions.code`, or a `ServerError` that hides it).

They need node and the pinned npm packages (`npm ci --prefix tests/clients`, which
`bash .ci/setup-clients` runs). Without them the module is skipped, naming that command,
except under CI (`CI` set), where it fails: CI must never lose these tests quietly.

What they prove (issue 11): the audit reports no error, no warning and no notice; the
Apollo application receives Gatehouse's codes as GraphQL errors (`UNAUTHENTICATED` over a
401, `FORBIDDEN` over a 403, `GRAPHQL_VALIDATION_FAILED` over a 400), queries over GET,
and uses automatic persisted queries over POST and GET.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.config import in_ci
from tests.helpers.processes import ROOT, GatehouseServer

pytestmark = pytest.mark.server

CLIENTS = ROOT / "tests" / "clients"
INSTALL = "npm ci --prefix tests/clients"
NODE_PACKAGES = ("graphql-http", "@apollo/client", "graphql", "rxjs")
NODE_TIMEOUT = 120.0  # seconds for one client program
SECRET = "graphql-over-http-clients-secret-key-0123456789"
AUDIT_STATUSES = {"ok", "notice", "warn", "error"}


def missing_node_tooling() -> str | None:
    """Why the clients cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed (install Node.js 20 or later and npm)"
    modules = CLIENTS / "node_modules"
    absent = [name for name in NODE_PACKAGES if not (modules / name / "package.json").is_file()]
    if absent:
        return f"npm packages missing from tests/clients/node_modules: {', '.join(absent)}"
    return None


@pytest.fixture(scope="module")
def node_clients() -> Path:
    reason = missing_node_tooling()
    if reason is not None:
        message = f"{reason}; install them with `{INSTALL}` (or `bash .ci/setup-clients`)"
        if in_ci():
            pytest.fail(f"CI is set, so the GraphQL-over-HTTP client tests may not be skipped: {message}")
        pytest.skip(message)
    return CLIENTS


@pytest.fixture(scope="module")
def endpoint(node_clients: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh `python main.py serve` (real uvicorn) on 127.0.0.1; its /graphql URL."""
    workdir = tmp_path_factory.mktemp("graphql-over-http")
    env = {
        "DATABASE_URL": f"sqlite://{workdir / 'gatehouse.db'}",
        "REDIS_URL": "",
        "SECRET_KEY": SECRET,
        "BCRYPT_ROUNDS": "4",
        "APP_ENV": "development",
        "ALLOWED_ORIGINS": "",
    }
    with GatehouseServer(env) as server:
        yield f"{server.url}/graphql"


def run_node(script: str, url: str) -> str:
    """Run `node tests/clients/<script> <url>`; its standard output."""
    try:
        done = subprocess.run(
            ["node", str(CLIENTS / script), url],
            cwd=CLIENTS,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"node {script} did not finish in {NODE_TIMEOUT}s") from exc
    if done.returncode != 0:
        raise RuntimeError(f"node {script} exited with {done.returncode}:\n{done.stderr}\n{done.stdout}")
    return done.stdout


@pytest.fixture(scope="module")
def audit(endpoint: str) -> list[dict[str, Any]]:
    """One result per audit of `graphql-http`'s `serverAudits`."""
    results = [json.loads(line) for line in run_node("audit.mjs", endpoint).splitlines() if line.strip()]
    if not results:
        raise RuntimeError("audit.mjs printed no audit result")
    return results


@pytest.fixture(scope="module")
def apollo(endpoint: str) -> dict[str, Any]:
    """What the Apollo Client 4 application received, case by case."""
    cases: dict[str, Any] = json.loads(run_node("apollo.mjs", endpoint))["cases"]
    return cases


def describe(results: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  {r['status']:6} {r['id']} {r['name']}: {r.get('reason')} "
        f"(HTTP {r.get('httpStatus')}, {r.get('contentType')})"
        for r in results
    )


def test_audit_ran_every_audit(audit: list[dict[str, Any]]):
    assert len(audit) > 40, describe(audit)
    assert {r["status"] for r in audit} <= AUDIT_STATUSES, describe(audit)
    assert len({r["id"] for r in audit}) == len(audit)


def test_audit_reports_no_error_and_no_warning(audit: list[dict[str, Any]]):
    failing = [r for r in audit if r["status"] in ("error", "warn")]
    assert not failing, f"{len(failing)} audits of {len(audit)} warn or fail:\n{describe(failing)}"


def test_audit_reports_no_notice(audit: list[dict[str, Any]]):
    """The notices were the GET audits (`MAY` rules), which the contract's GET row turns into passes."""
    notices = [r for r in audit if r["status"] == "notice"]
    assert not notices, f"{len(notices)} audits of {len(audit)} give notices:\n{describe(notices)}"


def assert_unauthenticated(case: dict[str, Any]) -> None:
    """The application got a GraphQL error coded UNAUTHENTICATED over a 401."""
    shown = json.dumps(case, indent=1)
    assert case["outcome"] == "CombinedGraphQLErrors", f"the app got no GraphQL error:\n{shown}"
    assert "UNAUTHENTICATED" in case["codes"], shown
    (exchange,) = case["exchanges"]
    assert exchange["status"] == 401, shown
    assert (exchange["responseContentType"] or "").startswith("application/graphql-response+json"), shown
    assert exchange["wwwAuthenticate"], shown


def test_apollo_sends_graphql_response_json_first(apollo: dict[str, Any]):
    """What Apollo 4 sends, which the content negotiation must serve."""
    exchange = apollo["bad_token"]["exchanges"][0]
    assert exchange["method"] == "POST"
    assert exchange["accept"] == "application/graphql-response+json,application/json;q=0.9"
    assert exchange["contentType"] == "application/json"


def test_apollo_app_receives_unauthenticated_for_a_bad_token(apollo: dict[str, Any]):
    assert_unauthenticated(apollo["bad_token"])


def test_apollo_app_receives_unauthenticated_for_a_protected_field_anonymously(apollo: dict[str, Any]):
    assert_unauthenticated(apollo["anonymous_protected"])


def test_apollo_app_registers_over_bearer_and_reads_me(apollo: dict[str, Any]):
    registered, me = apollo["register_bearer"], apollo["me_bearer"]
    assert registered["outcome"] == "data", json.dumps(registered, indent=1)
    assert registered["data"]["register"]["tokenType"] == "Bearer"
    assert me["outcome"] == "data", json.dumps(me, indent=1)
    assert me["data"]["me"]["username"] == me["expectedUsername"]
    assert me["data"]["me"]["id"] == registered["data"]["register"]["user"]["id"]


def test_apollo_app_queries_over_get(apollo: dict[str, Any]):
    case = apollo["get_anonymous"]
    shown = json.dumps(case, indent=1)
    assert case["outcome"] == "data", shown
    assert case["data"]["me"] is None
    (exchange,) = case["exchanges"]
    assert exchange["method"] == "GET" and exchange["status"] == 200, shown


def test_apollo_automatic_persisted_queries(apollo: dict[str, Any]):
    first, again = apollo["persisted_query"], apollo["persisted_query_again"]
    over_get = apollo["persisted_query_get"]
    for case in (first, again, over_get):
        assert case["outcome"] == "data", json.dumps(case, indent=1)
        assert case["data"]["me"] is None
    # The hash alone, PERSISTED_QUERY_NOT_FOUND, then the hash with the document.
    sent_query = ["query" in e["bodyKeys"] for e in first["exchanges"]]
    assert sent_query == [False, True], json.dumps(first, indent=1)
    # Registered now: the hash alone is answered.
    assert len(again["exchanges"]) == 1, json.dumps(again, indent=1)
    # Over GET: the hash alone in the query string, then Apollo's retry over POST with the document.
    assert [e["method"] for e in over_get["exchanges"]] == ["GET", "POST"], json.dumps(over_get, indent=1)
    assert "query" not in over_get["exchanges"][0]["queryKeys"]


def assert_graphql_error(case: dict[str, Any], code: str, status: int) -> None:
    """The application got a GraphQL error coded `code`, over an answer with `status`."""
    shown = json.dumps(case, indent=1)
    assert case["outcome"] == "CombinedGraphQLErrors", f"the app got no GraphQL error:\n{shown}"
    assert case["codes"] == [code], shown
    (exchange,) = case["exchanges"]
    assert exchange["status"] == status, shown
    assert (exchange["responseContentType"] or "").startswith("application/graphql-response+json"), shown


def test_apollo_app_receives_forbidden_for_an_admin_field(apollo: dict[str, Any]):
    assert_graphql_error(apollo["forbidden"], "FORBIDDEN", 403)


def test_apollo_app_receives_validation_failed_over_a_400(apollo: dict[str, Any]):
    """A request error (400, no `data` key) still reaches the app with its code."""
    assert_graphql_error(apollo["validation_failed"], "GRAPHQL_VALIDATION_FAILED", 400)
    assert apollo["validation_failed"]["data"] is None


def test_apollo_app_queries_over_get_with_variables_and_a_token(apollo: dict[str, Any]):
    case = apollo["get_variables"]
    shown = json.dumps(case, indent=1)
    assert case["outcome"] == "data", shown
    assert case["data"]["user"]["username"] == case["expectedUsername"], shown
    (exchange,) = case["exchanges"]
    assert exchange["method"] == "GET" and exchange["status"] == 200, shown
    assert {"query", "variables"} <= set(exchange["queryKeys"]), shown
