"""The ASGI application: routes, lifespan (database, Redis) and the GraphQL view."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Scope
from tortoise.contrib.starlette import RegisterTortoise

from auth.backend import AuthBackend
from auth.middleware import AuthenticationMiddleware
from auth.passwords import PasswordHasher
from core.client import ForwardedHeaders
from core.db import (
    MigrationsPending,
    committed_migrations,
    forget_compiled_queries,
    migrate_pending,
    tortoise_config,
)
from core.header_limits import HeaderLimits
from core.hosts import EXEMPT_PATHS, HostCheck
from core.media import APPLICATION_JSON, negotiate
from core.preflight import migrations_pending_line
from core.redis_client import connect_redis
from core.scope import connection_of
from core.settings import Settings
from schema.build import build_schema
from schema.engine import build_engine
from schema.graphiql import graphiql_routes
from schema.modules import load_modules, model_apps
from schema.viewer import viewer_schemas
from services.audit import add_listener, remove_listener
from web.account_pages import account_page_routes
from web.cors import PreflightAwareCORS
from web.errors import error_response, refuse_websocket
from web.federation import ExternalCallback
from web.forward_auth import ForwardAuthEndpoint
from web.graphql import GraphQLView
from web.health import HealthCheck
from web.introspect import IntrospectionEndpoint
from web.metrics import METRICS_PATH, Metrics, RequestMetrics
from web.middleware import AccessLog, BodyLimit, OriginCheck
from web.persisted import PersistedQueries
from web.schema_file import SchemaFile
from web.wellknown import wellknown_routes

logger = logging.getLogger("gatehouse.app")


def cors_middleware(settings: Settings) -> Middleware:
    """CORS for `ALLOWED_ORIGINS` only, with credentials.

    The list is explicit (settings refuse `*` and `null`), so Starlette echoes an
    origin only when it is listed; any other origin, `null` included, gets no
    `Access-Control-Allow-Origin` and its preflight fails.
    """
    return Middleware(
        PreflightAwareCORS,
        allow_origins=[origin.lower() for origin in settings.allowed_origins],
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After", "WWW-Authenticate"],
        max_age=600,  # seconds a browser may cache a preflight
    )


def create_app(
    settings: Settings, hasher: PasswordHasher | None = None, *, freeze_heap: bool = False
) -> Starlette:
    """The Gatehouse app for `settings`; `hasher` lets tests inject a password hasher.

    `freeze_heap` (for a serving process, not for tests that build many apps): once
    started, move every object alive to the collector's permanent generation. The
    schema, ORM metadata and imported modules live as long as the process, and
    without this each full collection walks all of them again (tens of
    milliseconds, every few thousand requests).
    """
    redis: Any = connect_redis(settings) if settings.redis_url else None
    # Loaded once: their root types join the schema, their models Gatehouse's.
    modules = load_modules(settings.schema_modules)
    schema = build_schema(settings, modules)
    # The access tokens' `scope` claim names every scope the served schema knows.
    backend = AuthBackend.build(settings, redis=redis, hasher=hasher, access_scopes=schema.known_scopes)
    # Made now, whatever SCHEMA_ENDPOINT says: `viewer.can` uses it on requests (about
    # 15 ms to make), and a schema whose anonymous Query would be empty stops start-up.
    viewer_schemas(schema)
    apps = model_apps(modules)
    persisted = PersistedQueries.from_settings(settings, redis)
    view = GraphQLView(settings, backend, build_engine(schema, settings), persisted)

    async def refuse_credentials(exc: BaseException, scope: Scope) -> ASGIApp:
        if scope["type"] == "websocket":
            return refuse_websocket(exc)
        media = negotiate(connection_of(scope).headers.get("accept")) or APPLICATION_JSON
        return error_response(exc, media)

    # The request's path to the view: body bound, then origin check, then identity.
    graphql = BodyLimit(
        OriginCheck(
            AuthenticationMiddleware(view, backend.authenticator, settings, refuse_credentials), settings
        ),
        settings.max_body_bytes,
    )

    # The SDL with its directives: authenticated like /graphql, so production can ask for an admin.
    schema_file = OriginCheck(
        AuthenticationMiddleware(
            SchemaFile(schema, settings), backend.authenticator, settings, refuse_credentials
        ),
        settings,
    )

    # Forward authentication (nginx auth_request, Traefik ForwardAuth): the identity
    # middleware runs for it as for /graphql, so every scheme and revocation count alike.
    # No origin check: a GET without side effects, answered to the proxy (docs/TOKENS.md).
    forward_auth = AuthenticationMiddleware(
        ForwardAuthEndpoint(refuse_credentials), backend.authenticator, settings, refuse_credentials
    )
    # RFC 7662 introspection: authenticates its caller and the token itself through the
    # same Authenticator, with OAuth-style errors (web/introspect.py).
    introspect = IntrospectionEndpoint(settings, backend.authenticator, backend.limiter, backend.bearer.jwt)
    # METRICS=on: counters fed by the outermost middleware, the view (the operation), the
    # audit events (sign-ins) and the rate limiter (refusals); off, none of it exists.
    metrics = Metrics() if settings.metrics else None
    if metrics is not None:
        backend.limiter.on_refused = metrics.refused
    # Where other providers send the browser back (section 10): the session cookie's
    # identity is read as for /graphql (a link must finish as the user who began it).
    # No origin check: a top-level navigation from the provider carries none worth one;
    # the flow's state, bound to the browser's flow cookie, is the check.
    external_callback = AuthenticationMiddleware(
        ExternalCallback(settings, backend), backend.authenticator, settings, refuse_credentials
    )

    # A throw-away database is made from the models at each start: no migrations to hold.
    in_memory = ":memory:" in settings.database_url
    healthz = HealthCheck(None if in_memory else committed_migrations(apps), settings.db_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        forget_compiled_queries()
        database = RegisterTortoise(
            app,
            config=tortoise_config(settings.database_url, settings.db_timeout, apps),
            generate_schemas=in_memory,
        )
        await database.init_orm()
        try:
            # Read once here, then rarely (web/health.py): never on every probe.
            pending = await healthz.check_migrations()
            if pending and settings.migrates_on_start:
                # On connections of their own, without DB_TIMEOUT's bound on each statement
                # and under the migration lock (instances starting together apply each once).
                await database.close_orm()
                applied = await migrate_pending(settings.database_url, apps)
                logger.info("applied %d migration(s): %s", len(applied), ", ".join(applied))
                await database.init_orm()
                pending = await healthz.check_migrations()
            if pending:
                # Refused rather than served: every request would fail on a missing table
                # (`main.py serve` refuses before this, in one line: core/preflight.py).
                raise MigrationsPending(migrations_pending_line(settings.database_url, pending))
            # The signing keys (EdDSA / ES256: from the database, the first made now).
            await backend.start()
            if freeze_heap:
                gc.collect()
                gc.freeze()
            if metrics is not None:
                add_listener(metrics.audited)
            try:
                yield
            finally:
                if metrics is not None:
                    remove_listener(metrics.audited)
                await backend.stop()
        finally:
            await database.close_orm()
        if redis is not None:
            await redis.aclose()

    app = Starlette(
        routes=[
            # First: forward auth is asked on every request a proxy lets through, and the
            # router tries routes in order (no other route matches this path, nor it theirs).
            # Every method reaches it, so a wrong one is answered in its own terms (405).
            Route("/auth/verify", forward_auth),
            # Every method reaches the view, so even a PUT is answered in GraphQL JSON.
            Route("/graphql", graphql),
            *([Route("/graphql/schema.graphql", schema_file)] if settings.schema_endpoint else []),
            # Subscriptions over graphql-transport-ws, when a module brings a Subscription
            # root (web/subscriptions.py); otherwise the socket is closed after its checks.
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz.endpoint, methods=["GET"]),
            # Every method reaches it, so a wrong one is answered in its own terms (405).
            Route("/oauth/introspect", introspect),
            Route("/auth/callback/{provider}", external_callback),
            # Public keys and discovery for services verifying access tokens (section 9).
            *wellknown_routes(settings, backend.keyring),
            # GraphiQL's scripts and stylesheets, served locally; production has no IDE.
            *([] if settings.production else graphiql_routes()),
            # The pages links in mails open (section 11): static, they call /graphql.
            *account_page_routes(),
            *([Route(METRICS_PATH, metrics.endpoint, methods=["GET"])] if metrics is not None else []),
        ],
        lifespan=lifespan,
        middleware=[
            # METRICS=on, outermost of all: every request counts, whoever refuses it.
            *([Middleware(RequestMetrics, metrics=metrics)] if metrics is not None else []),
            # Outermost: X-Forwarded-For/-Proto from TRUSTED_PROXIES become the scope's
            # client and scheme (uvicorn's ProxyHeadersMiddleware, core/client.py), once.
            Middleware(ForwardedHeaders, trusted_proxies=settings.trusted_proxies),
            *([Middleware(AccessLog)] if settings.access_log_on else []),
            # First of all: headers over their bounds (431) are read no further.
            Middleware(HeaderLimits),
            # Then: a request for a host this server does not serve (DNS rebinding)
            # is refused before CORS or any route sees it.
            # Probes and scrapers name the pod's address: /healthz and /metrics answer any host.
            Middleware(
                HostCheck,
                allowed_hosts=settings.served_hosts(),
                exempt_paths=EXEMPT_PATHS | ({METRICS_PATH} if metrics is not None else set()),
            ),
            # No allowed origins means same-origin only: no CORS headers to add, no middleware.
            *([cors_middleware(settings)] if settings.allowed_origins else []),
        ],
    )
    app.state.settings = settings
    app.state.backend = backend
    app.state.schema = schema
    return app
