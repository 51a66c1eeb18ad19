"""Prometheus metrics (contract section 14): `GET /metrics` in the text format, under
`METRICS=on` only. Off, none of this is built: no middleware, no route (404), no listener.

What is counted, and the labels each carries (every label's values come from a fixed
set, so the series are bounded whatever clients send; none holds a credential, an
address, a username, an email, a password or a query text):

- `gatehouse_http_requests_total{route, operation, status}` and the latency histogram
  `gatehouse_http_request_duration_seconds{route, operation}`, for every HTTP request.
  `route` is the path template of the route that serves it (`/graphql`,
  `/auth/callback/{provider}`) or `other`. `operation` is, for `/graphql`, the root field
  the operation selects, as the schema names it (`login`, `me`; `(several)` for more than
  one root field, `(fragment)` for a root selection made of fragments, `(none)` when the
  request failed before an operation was chosen), and empty for other routes: never the
  client's `operationName`, which a client may spell any way it likes.
- `gatehouse_sign_ins_total{method, outcome}`: `login` (`method="password"`: `success`,
  `failure`, `rate_limited`, `email_not_verified`), sign-ins through another provider
  (`external`: `success`, `failure`) and `register` (`register`: `success`), counted from
  the audit events (services/audit.py) that record each. A Basic header is checked on
  each request it comes with, not signed in with: its refusals count in the limits below.
- `gatehouse_rate_limited_total{limit}`: refusals by each limit of auth/ratelimit.py
  (`login-ip`, `login-account`, `register-ip`, `refresh-ip`, `introspect-caller`,
  `mail-ip`, `mail-address`).

Each app has its own registry, so the numbers are those of one process since it started.
Under `uvicorn --workers N` a scrape reaches one worker, whichever accepts it: run one
process per scrape target (one `python main.py serve` per container or port) instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from graphql import FieldNode, OperationDefinitionNode
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from web.middleware import run_noting_status

METRICS_PATH = "/metrics"
# Where the request's operation label waits for the view to fill it (web/graphql.py).
OPERATION_KEY = "gatehouse.metrics.operation"
NO_OPERATION = "(none)"
SEVERAL_FIELDS = "(several)"
FRAGMENT = "(fragment)"
OTHER_ROUTE = "other"
# Seconds; Gatehouse answers most requests in a few milliseconds, a bcrypt check in a
# few hundred (BCRYPT_ROUNDS=12 is about 0.3 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# The audit events that are sign-ins, and what each counts as: (method, outcome).
SIGN_IN_EVENTS: dict[str, tuple[str, str]] = {
    "login_success": ("password", "success"),
    "login_failure": ("password", "failure"),
    "login_rate_limited": ("password", "rate_limited"),
    "login_unverified": ("password", "email_not_verified"),
    "external_login_success": ("external", "success"),
    "external_login_failure": ("external", "failure"),
    "external_id_token_refused": ("external", "failure"),
    "external_id_token_replayed": ("external", "failure"),
    "register": ("register", "success"),
}
# The namespaces of auth/ratelimit.py's counters, shown at zero before the first refusal.
RATE_LIMITS = (
    "login-ip",
    "login-account",
    "register-ip",
    "refresh-ip",
    "introspect-caller",
    "mail-ip",
    "mail-address",
)


def operation_label(operation: OperationDefinitionNode) -> str:
    """The `operation` label of a chosen (so validated) operation: its one root field's
    name in the schema, whatever alias it has; `__typename` beside it aside."""
    names = {
        selection.name.value if isinstance(selection, FieldNode) else FRAGMENT
        for selection in operation.selection_set.selections
    }
    if len(names) > 1:
        names.discard("__typename")
    if len(names) > 1:
        return SEVERAL_FIELDS
    return names.pop()


def note_operation(scope: Scope, operation: OperationDefinitionNode) -> None:
    """Give the request's metrics the operation the view chose (a no-op when not counted)."""
    holder: list[str] | None = scope.get(OPERATION_KEY)
    if holder is not None:
        holder[0] = operation_label(operation)


class Metrics:
    """One app's counters, in a registry of its own (an app built twice in a process, as
    the tests do, never meets the other's series)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gatehouse_http_requests",
            "HTTP requests answered, by route template, GraphQL root field and status code.",
            ("route", "operation", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "gatehouse_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer, by route and GraphQL root field.",
            ("route", "operation"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "gatehouse_sign_ins",
            "Sign-ins by method (password, external, register) and outcome.",
            ("method", "outcome"),
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "gatehouse_rate_limited",
            "Requests refused by a rate limit, by limit.",
            ("limit",),
            registry=self.registry,
        )
        for method, outcome in set(SIGN_IN_EVENTS.values()):
            self.sign_ins.labels(method, outcome)
        for limit in RATE_LIMITS:
            self.rate_limited.labels(limit)

    def audited(self, event: str) -> None:
        """Count an audit event that is a sign-in (services/audit.py calls it for every event)."""
        counted = SIGN_IN_EVENTS.get(event)
        if counted is not None:
            self.sign_ins.labels(*counted).inc()

    def refused(self, limit: str) -> None:
        """Count a refusal by the rate limit `limit` (auth/ratelimit.py calls it)."""
        self.rate_limited.labels(limit).inc()

    async def endpoint(self, request: Request) -> Response:
        """`GET /metrics`: everything in the registry, in Prometheus' text format."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class _RouteTemplates:
    """A path's route template among an app's routes, worked out once per path kind."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.exact: dict[str, str] = {}
        self.templated: list[tuple[Any, str]] = []
        for route in routes:
            if isinstance(route, Route):
                if route.param_convertors:
                    self.templated.append((route.path_regex, route.path))
                else:
                    self.exact[route.path] = route.path

    def of(self, path: str) -> str:
        found = self.exact.get(path)
        if found is not None:
            return found
        for regex, template in self.templated:
            if regex.match(path):
                return template
        return OTHER_ROUTE


class RequestMetrics:
    """Counts and times every HTTP request, outermost, so refusals by any layer count too.

    The route template is taken from the app's routes (Starlette puts the app in the
    scope); a path no route serves counts as `other`. WebSockets are not counted.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._routes: _RouteTemplates | None = None

    def _route(self, scope: Scope) -> str:
        if self._routes is None:
            self._routes = _RouteTemplates(scope["app"].routes)
        return self._routes.of(scope["path"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = self._route(scope)
        operation = [NO_OPERATION if route == "/graphql" else ""]
        scope[OPERATION_KEY] = operation

        def count(status: int) -> None:
            self.metrics.requests.labels(route, operation[0], str(status)).inc()
            self.metrics.latency.labels(route, operation[0]).observe(time.perf_counter() - started)

        await run_noting_status(self.app, scope, receive, send, count)
